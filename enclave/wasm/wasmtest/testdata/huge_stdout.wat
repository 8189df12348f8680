;; huge_stdout: writes 100 MiB of 'A' to stdout in 4 KiB writes (25,600 of them), ignoring
;; every write error, then returns from _start.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; iovec {buf = 1024, len = 4096} at offset 0.
  (data (i32.const 0) "\00\04\00\00\00\10\00\00")
  (func (export "_start")
    (local $i i32)
    (memory.fill (i32.const 1024) (i32.const 65) (i32.const 4096))
    (loop $more
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 25600))))))
