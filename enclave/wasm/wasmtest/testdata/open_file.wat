;; open_file: tries path_open("etc/passwd") relative to fd 3 (the first preopened directory
;; in WASI; "/" when a host mounts the root). If that fails it exits with the errno as its
;; exit code; if it succeeds it copies the file to stdout.
;;
;; Memory layout: 0 iovec, 8 bytes read, 16 opened fd, 24 bytes written, 32 the path,
;; 1024 the 4 KiB buffer.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 32) "etc/passwd")

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
    (local $errno i32) (local $fd i32) (local $n i32)
    ;; dirfd 3, no lookup flags, path at 32 (10 bytes), no oflags, rights FD_READ (1<<1),
    ;; no inherited rights, no fd flags, new fd stored at 16.
    (local.set $errno
      (call $path_open (i32.const 3) (i32.const 0) (i32.const 32) (i32.const 10) (i32.const 0)
        (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 16)))
    (if (local.get $errno) (then (call $proc_exit (local.get $errno))))
    (local.set $fd (i32.load (i32.const 16)))
    (loop $more
      (i32.store (i32.const 0) (i32.const 1024))
      (i32.store (i32.const 4) (i32.const 4096))
      (local.set $errno (call $fd_read (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
      (if (local.get $errno) (then (call $proc_exit (local.get $errno))))
      (local.set $n (i32.load (i32.const 8)))
      (if (local.get $n)
        (then
          (call $write (i32.const 1024) (local.get $n))
          (br $more))))))
