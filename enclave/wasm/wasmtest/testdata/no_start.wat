;; no_start: a reactor-style module that exports "run" but no _start (not a WASI command).
(module
  (memory (export "memory") 1)
  (func (export "run") (result i32) (i32.const 7)))
