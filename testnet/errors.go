package testnet

import "errors"

// ErrScenario is returned (wrapped with the step and the detail) when the
// network answered a step of the scenario and the answer was wrong: no
// agent found on another node, a receipt that does not verify, a payment
// missing or not settled on chain as the receipt says. Errors that are
// not wrapped in it are failures to reach a node or the chain.
var ErrScenario = errors.New("scenario check failed")
