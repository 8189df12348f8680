;; random: asks random_get for 32 bytes and writes them to stdout. With a seeded random
;; source the output is a pure function of the seed.
(module
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; iovec {buf = 64, len = 32} at offset 0.
  (data (i32.const 0) "\40\00\00\00\20\00\00\00")
  (func (export "_start")
    (if (call $random_get (i32.const 64) (i32.const 32)) (then (unreachable)))
    (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)) (then (unreachable)))))
