;; relay: a free agent that calls the agent its stdin names ("peer/name") with the same
;; stdin as input, through agentnet.call with max_price 0, and prints "relay > " and the
;; callee's output, exiting with the callee's exit code. When the call fails it prints
;; "relay: error -N: <message>" and exits with N. Deployed under its own peer/name it calls
;; itself until the node's depth limit stops the chain.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "agentnet" "call" (func $call (param i32 i32 i32 i32 i64 i32) (result i32)))
  (import "agentnet" "result_read" (func $result_read (param i32 i32 i32 i32) (result i32)))
  (import "agentnet" "exit_code" (func $exit_code (param i32) (result i64)))
  (import "agentnet" "error_read" (func $error_read (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  ;; 0: iovec {ptr, len}; 8: bytes read or written; 64: strings; 1024: stdin (4 KiB);
  ;; 8192: output and error messages (64 KiB).
  (data (i32.const 64) "relay > ")
  (data (i32.const 80) "relay: error -")
  (data (i32.const 96) ": ")
  (data (i32.const 100) "\n")

  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func (export "_start")
    (local $n i32) (local $got i32) (local $h i32) (local $len i32)
    ;; read stdin, up to 4 KiB
    (block $done
      (loop $more
        (i32.store (i32.const 0) (i32.add (i32.const 1024) (local.get $n)))
        (i32.store (i32.const 4) (i32.sub (i32.const 4096) (local.get $n)))
        (br_if $done (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $got (i32.load (i32.const 8)))
        (br_if $done (i32.eqz (local.get $got)))
        (local.set $n (i32.add (local.get $n) (local.get $got)))
        (br_if $more (i32.lt_u (local.get $n) (i32.const 4096)))))
    ;; drop one trailing newline
    (if (i32.and (i32.gt_u (local.get $n) (i32.const 0))
                 (i32.eq (i32.load8_u (i32.add (i32.const 1023) (local.get $n))) (i32.const 10)))
      (then (local.set $n (i32.sub (local.get $n) (i32.const 1)))))
    ;; call the target with the same bytes as input, paying nothing, until the run's deadline
    (local.set $h (call $call (i32.const 1024) (local.get $n) (i32.const 1024) (local.get $n)
                              (i64.const 0) (i32.const 0)))
    (if (i32.lt_s (local.get $h) (i32.const 0))
      (then
        (call $write (i32.const 80) (i32.const 14))
        ;; codes are -1 .. -9: one digit
        (i32.store8 (i32.const 8192) (i32.sub (i32.const 48) (local.get $h)))
        (call $write (i32.const 8192) (i32.const 1))
        (local.set $len (call $error_read (i32.const 8192) (i32.const 65536)))
        (if (i32.gt_s (local.get $len) (i32.const 0))
          (then
            (call $write (i32.const 96) (i32.const 2))
            (call $write (i32.const 8192) (local.get $len))))
        (call $write (i32.const 100) (i32.const 1))
        (call $proc_exit (i32.sub (i32.const 0) (local.get $h)))
        (unreachable)))
    (local.set $len (call $result_read (local.get $h) (i32.const 0) (i32.const 8192) (i32.const 65536)))
    ;; -7: the output is over 64 KiB
    (if (i32.lt_s (local.get $len) (i32.const 0))
      (then (call $proc_exit (i32.const 70)) (unreachable)))
    (call $write (i32.const 64) (i32.const 8))
    (call $write (i32.const 8192) (local.get $len))
    (call $proc_exit (i32.wrap_i64 (call $exit_code (local.get $h))))))
