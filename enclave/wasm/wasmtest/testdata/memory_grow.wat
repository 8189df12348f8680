;; memory_grow: grows its memory one page at a time until memory.grow returns -1 (the
;; executor's page limit), then writes the page count it reached to stderr as a 4-byte
;; little-endian integer and traps with "unreachable".
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; iovec {buf = 16, len = 4} at offset 0.
  (data (i32.const 0) "\10\00\00\00\04\00\00\00")
  (func (export "_start")
    (loop $grow
      (br_if $grow (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    (i32.store (i32.const 16) (memory.size))
    (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
    (unreachable)))
