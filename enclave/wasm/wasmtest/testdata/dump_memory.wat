;; dump_memory: writes its whole first memory page (65,536 bytes) to stdout without
;; initialising anything but the iovec at offset 0. WebAssembly memory starts zeroed, so
;; the output must be the 8-byte iovec followed by zeros; anything else is data left over
;; from an earlier instance.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; iovec {buf = 0, len = 65536} at offset 0.
  (data (i32.const 0) "\00\00\00\00\00\00\01\00")
  (func (export "_start")
    (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)) (then (unreachable)))))
