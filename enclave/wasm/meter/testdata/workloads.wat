;; Compute kernels for the metering tests and benchmarks; the native Go twins are in
;; metertest (Loop, Fib, FibRec).
(module
  ;; loop(n) sums i ^ (i >> 3) for i in [0, n): one basic block per iteration.
  (func (export "loop") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (local.set $acc
        (i32.add (local.get $acc) (i32.xor (local.get $i) (i32.shr_u (local.get $i) (i32.const 3)))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $acc))

  ;; fib(n) is the naive Fibonacci in the shape an optimizing compiler (LLVM -O2) gives
  ;; it: the second recursive call becomes a loop with an accumulator.
  (func $fib (export "fib") (param $n i32) (result i32)
    (local $acc i32)
    (block $done
      (loop $l
        (br_if $done (i32.lt_u (local.get $n) (i32.const 2)))
        (local.set $acc
          (i32.add (local.get $acc) (call $fib (i32.sub (local.get $n) (i32.const 1)))))
        (local.set $n (i32.sub (local.get $n) (i32.const 2)))
        (br $l)))
    (i32.add (local.get $acc) (local.get $n)))

  ;; fibrec(n) is the doubly recursive Fibonacci, without any loop.
  (func $fibrec (export "fibrec") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else
        (i32.add
          (call $fibrec (i32.sub (local.get $n) (i32.const 1)))
          (call $fibrec (i32.sub (local.get $n) (i32.const 2)))))))

  ;; spin never returns.
  (func (export "spin")
    (loop $l (br $l))))
