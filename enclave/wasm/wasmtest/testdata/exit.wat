;; exit: exits with the code given as its first argument in decimal (e.g. "3"), via proc_exit.
;; Without an argument it returns from _start (exit code 0); an argument that is empty or
;; not all digits traps with "unreachable". Larger values wrap modulo 2^32.
;;
;; Memory layout: 8 argc, 12 argv buffer size, 64 argv pointers followed by the strings.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)

  (func (export "_start")
    (local $argc i32) (local $buf i32) (local $end i32) (local $p i32) (local $c i32) (local $code i32)
    (if (call $args_sizes_get (i32.const 8) (i32.const 12)) (then (unreachable)))
    (local.set $argc (i32.load (i32.const 8)))
    (if (i32.lt_u (local.get $argc) (i32.const 2)) (then (return)))
    (local.set $buf (i32.add (i32.const 64) (i32.shl (local.get $argc) (i32.const 2))))
    (local.set $end (i32.add (local.get $buf) (i32.load (i32.const 12))))
    (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
      (then
        (if (i32.eq
              (memory.grow (i32.sub
                (i32.shr_u (i32.add (local.get $end) (i32.const 65535)) (i32.const 16))
                (memory.size)))
              (i32.const -1))
          (then (unreachable)))))
    (if (call $args_get (i32.const 64) (local.get $buf)) (then (unreachable)))
    (local.set $p (i32.load (i32.const 68)))
    (if (i32.eqz (i32.load8_u (local.get $p))) (then (unreachable)))
    (block $done
      (loop $digit
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $done (i32.eqz (local.get $c)))
        (if (i32.gt_u (i32.sub (local.get $c) (i32.const 48)) (i32.const 9)) (then (unreachable)))
        (local.set $code
          (i32.add (i32.mul (local.get $code) (i32.const 10)) (i32.sub (local.get $c) (i32.const 48))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $digit)))
    (call $proc_exit (local.get $code))))
