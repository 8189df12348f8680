;; greet: prints its banner, then its arguments after argv[0] each preceded by a space,
;; then "\n". The banner is the NUL-padded 64-byte data segment at offset 256, which
;; nettest.Greeter patches so that every test agent is a distinct module with its own
;; output: "<banner> <arg1> <arg2>...\n".
;;
;; Memory layout: 0 iovec, 8 argc, 12 argv buffer size, 24 bytes written, 32 "\n",
;; 33 " ", 256 banner (64 bytes), 512 argv pointers followed by the argument strings.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 32) "\n ")
  (data (i32.const 256) "@@agentnode-greet-banner@@------------------------------------@@")

  ;; write copies len bytes at ptr to stdout, retrying short writes; exits 1 on a write error.
  (func $write (param $ptr i32) (param $len i32)
    (local $n i32)
    (block $done
      (loop $more
        (br_if $done (i32.eqz (local.get $len)))
        (i32.store (i32.const 0) (local.get $ptr))
        (i32.store (i32.const 4) (local.get $len))
        (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 24))
          (then (call $proc_exit (i32.const 1))))
        (local.set $n (i32.load (i32.const 24)))
        (if (i32.eqz (local.get $n)) (then (call $proc_exit (i32.const 1))))
        (local.set $ptr (i32.add (local.get $ptr) (local.get $n)))
        (local.set $len (i32.sub (local.get $len) (local.get $n)))
        (br $more))))

  (func (export "_start")
    (local $argc i32) (local $size i32) (local $buf i32) (local $end i32) (local $start i32) (local $p i32)
    ;; The banner ends at its first NUL or after 64 bytes.
    (local.set $p (i32.const 256))
    (block $found
      (loop $scan
        (br_if $found (i32.ge_u (local.get $p) (i32.const 320)))
        (br_if $found (i32.eqz (i32.load8_u (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $scan)))
    (call $write (i32.const 256) (i32.sub (local.get $p) (i32.const 256)))
    (if (call $args_sizes_get (i32.const 8) (i32.const 12)) (then (unreachable)))
    (local.set $argc (i32.load (i32.const 8)))
    (local.set $size (i32.load (i32.const 12)))
    (local.set $buf (i32.add (i32.const 512) (i32.shl (local.get $argc) (i32.const 2))))
    (local.set $end (i32.add (local.get $buf) (local.get $size)))
    ;; Grow memory until the argv pointers and strings fit.
    (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
      (then
        (if (i32.eq
              (memory.grow (i32.sub
                (i32.shr_u (i32.add (local.get $end) (i32.const 65535)) (i32.const 16))
                (memory.size)))
              (i32.const -1))
          (then (unreachable)))))
    (if (call $args_get (i32.const 512) (local.get $buf)) (then (unreachable)))
    (if (i32.le_u (local.get $argc) (i32.const 1))
      (then
        (call $write (i32.const 32) (i32.const 1))
        (return)))
    ;; The strings of argv[1..] run from argv[1] to the end of the buffer, each NUL-terminated:
    ;; turn every NUL into a space, then the last one into "\n".
    (local.set $start (i32.load (i32.const 516)))
    (local.set $p (local.get $start))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (if (i32.eqz (i32.load8_u (local.get $p)))
          (then (i32.store8 (local.get $p) (i32.const 32))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (i32.store8 (i32.sub (local.get $end) (i32.const 1)) (i32.const 10))
    (call $write (i32.const 33) (i32.const 1))
    (call $write (local.get $start) (i32.sub (local.get $end) (local.get $start)))))
