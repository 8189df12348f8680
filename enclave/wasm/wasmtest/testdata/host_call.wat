;; host_call: imports test_host.answer () -> i32 and exits with its result via proc_exit.
;; Used to test host modules registered with an executor.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "test_host" "answer" (func $answer (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (call $proc_exit (call $answer))))
