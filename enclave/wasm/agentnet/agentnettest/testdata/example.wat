;; example: the WAT example of docs/abi.md. It searches for "arxiv papers" and prints the
;; JSON it gets, then calls the best match for "arxiv papers about attention" with the
;; input "attention", paying at most 10000 atomic units, and prints the callee's output
;; and receipt. It exits with the callee's exit code, or with N when a step fails with -N.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "agentnet" "search" (func $search (param i32 i32 i32) (result i32)))
  (import "agentnet" "call_best" (func $call_best (param i32 i32 i32 i32 i64 i32) (result i32)))
  (import "agentnet" "result_len" (func $result_len (param i32 i32) (result i32)))
  (import "agentnet" "result_read" (func $result_read (param i32 i32 i32 i32) (result i32)))
  (import "agentnet" "exit_code" (func $exit_code (param i32) (result i64)))
  (import "agentnet" "close" (func $close (param i32) (result i32)))
  (memory (export "memory") 2)
  ;; 0: iovec; 8: bytes written; 64..: strings; 4096: a 64 KiB buffer.
  (data (i32.const 64) "arxiv papers")                   ;; 12 bytes
  (data (i32.const 80) "arxiv papers about attention")   ;; 28 bytes
  (data (i32.const 112) "attention")                     ;; 9 bytes
  (data (i32.const 128) "found: ")                       ;; 7 bytes
  (data (i32.const 144) "answer: ")                      ;; 8 bytes
  (data (i32.const 160) "receipt: ")                     ;; 9 bytes
  (data (i32.const 176) "\n")

  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  ;; $print writes a label, then field $field of handle $h, then a newline; it exits
  ;; with N if the field does not fit the 64 KiB buffer or the handle is bad.
  (func $print (param $label i32) (param $label_len i32) (param $h i32) (param $field i32)
    (local $n i32)
    (local.set $n (call $result_len (local.get $h) (local.get $field)))
    (if (i32.lt_s (local.get $n) (i32.const 0))
      (then (call $proc_exit (i32.sub (i32.const 0) (local.get $n))) (unreachable)))
    (if (i32.gt_u (local.get $n) (i32.const 65536))
      (then (call $proc_exit (i32.const 7)) (unreachable)))
    (local.set $n (call $result_read (local.get $h) (local.get $field) (i32.const 4096) (i32.const 65536)))
    (call $write (local.get $label) (local.get $label_len))
    (call $write (i32.const 4096) (local.get $n))
    (call $write (i32.const 176) (i32.const 1)))

  (func (export "_start")
    (local $h i32)
    ;; search: at most 3 results, as a JSON array
    (local.set $h (call $search (i32.const 64) (i32.const 12) (i32.const 3)))
    (if (i32.lt_s (local.get $h) (i32.const 0))
      (then (call $proc_exit (i32.sub (i32.const 0) (local.get $h))) (unreachable)))
    (call $print (i32.const 128) (i32.const 7) (local.get $h) (i32.const 0))
    (drop (call $close (local.get $h)))
    ;; call the best match, paying at most 10000, until the run's deadline
    (local.set $h (call $call_best (i32.const 80) (i32.const 28) (i32.const 112) (i32.const 9)
                                   (i64.const 10000) (i32.const 0)))
    (if (i32.lt_s (local.get $h) (i32.const 0))
      (then (call $proc_exit (i32.sub (i32.const 0) (local.get $h))) (unreachable)))
    (call $print (i32.const 144) (i32.const 8) (local.get $h) (i32.const 0))
    (call $print (i32.const 160) (i32.const 9) (local.get $h) (i32.const 1))
    (call $proc_exit (i32.wrap_i64 (call $exit_code (local.get $h))))))
