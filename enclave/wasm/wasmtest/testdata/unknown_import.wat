;; unknown_import: imports env.launch_missiles, which no node provides.
(module
  (import "env" "launch_missiles" (func $launch (param i32) (result i32)))
  (func (export "_start")
    (drop (call $launch (i32.const 1)))))
