// Compiles TestToken.sol with the pinned solc (npm package, no native
// compiler) and writes the ABI and init bytecode that x402/chain/token
// embeds. Run through build.sh, which also regenerates the Go bindings.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const source = fs.readFileSync(path.join(__dirname, 'TestToken.sol'), 'utf8');
const input = {
  language: 'Solidity',
  sources: { 'TestToken.sol': { content: source } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'paris',
    metadata: { bytecodeHash: 'none' },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === 'error');
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length > 0) process.exit(1);

const contract = output.contracts['TestToken.sol'].TestToken;
const out = path.join(__dirname, '..', 'token');
fs.writeFileSync(path.join(out, 'TestToken.abi'), JSON.stringify(contract.abi, null, 2) + '\n');
fs.writeFileSync(path.join(out, 'TestToken.bin'), contract.evm.bytecode.object + '\n');
console.log(`solc ${solc.version()}: ${contract.evm.bytecode.object.length / 2} bytes of init code`);
