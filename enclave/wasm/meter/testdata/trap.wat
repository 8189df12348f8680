;; Named functions that call each other and trap, for the name-section test: the metered
;; module's stack trace must name the same functions.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (func $outer (export "outer") (param $x i32) (result i32)
    (call $middle (i32.add (local.get $x) (i32.const 1))))
  (func $middle (param $x i32) (result i32)
    (call $inner (local.get $x)))
  (func $inner (param $x i32) (result i32)
    (i32.div_u (i32.const 100) (local.get $x))))
