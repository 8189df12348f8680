;; A WASI command that touches every construct the rewriter must remap or meter: imports
;; before defined functions, a start section, active, passive and declarative element
;; segments in both encodings, ref.func in globals and code, call_indirect, tables of
;; both reference types, bulk memory and table operations, memory.grow, multi-value
;; blocks and calls, br_table, typed select, sign extension, saturating truncation and
;; SIMD with every kind of immediate. It prints a line per check and exits with a code
;; derived from the results, so any change of behaviour shows in stdout or the exit code.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (type $binop (func (param i32 i32) (result i32)))
  (memory (export "memory") 1 4)
  (table $funcs 8 funcref)
  (table $things 4 externref)
  (global $started (mut i32) (i32.const 0))
  (global $fref funcref (ref.func $mul))
  (global $slot (mut funcref) (ref.null func))
  (global $acc (mut i64) (i64.const 0))
  (elem (table $funcs) (i32.const 0) func $add $sub $mul)
  (elem $passive func $div $add)
  (elem declare func $seven)
  (elem (table $funcs) (i32.const 5) funcref (ref.func $sub) (ref.null func))
  (data (i32.const 1024) "features\n")
  (data $pdata "passive!")
  (start $init)

  (func $init (global.set $started (i32.add (i32.const 35) (call $seven))))
  (func $add (type $binop) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $binop) (i32.sub (local.get 0) (local.get 1)))
  (func $mul (type $binop) (i32.mul (local.get 0) (local.get 1)))
  (func $div (type $binop) (i32.div_s (local.get 0) (local.get 1)))
  (func $seven (result i32) (i32.const 7))
  (func $pair (param i32) (result i32 i32) (local.get 0) (i32.add (local.get 0) (i32.const 1)))

  ;; print writes [ptr, ptr+len) to stdout.
  (func $print (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  ;; check prints "<tag>=<value>\n" with value in decimal and folds it into $acc.
  (func $check (param $tag i32) (param $v i64)
    (local $p i32) (local $u i64)
    (global.set $acc (i64.add (i64.mul (global.get $acc) (i64.const 31)) (local.get $v)))
    (local.set $p (i32.const 2100))
    (i32.store8 (local.get $p) (i32.const 10))
    (local.set $u (local.get $v))
    (if (i64.lt_s (local.get $v) (i64.const 0))
      (then (local.set $u (i64.sub (i64.const 0) (local.get $v)))))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $u) (i64.const 10)))))
      (br_if $digits (i64.ne (local.tee $u (i64.div_u (local.get $u) (i64.const 10))) (i64.const 0))))
    (if (i64.lt_s (local.get $v) (i64.const 0))
      (then
        (local.set $p (i32.sub (local.get $p) (i32.const 1)))
        (i32.store8 (local.get $p) (i32.const 45))))
    (local.set $p (i32.sub (local.get $p) (i32.const 1)))
    (i32.store8 (local.get $p) (i32.const 61))
    (local.set $p (i32.sub (local.get $p) (i32.const 1)))
    (i32.store8 (local.get $p) (local.get $tag))
    (call $print (local.get $p) (i32.sub (i32.const 2101) (local.get $p))))

  (func $classify (param $x i32) (result i32)
    (block $c (block $b (block $a
      (br_table $a $b $c (local.get $x)))
      (return (i32.const 100)))
      (return (i32.const 200)))
    (i32.const 300))

  (func (export "_start")
    (local $i i32) (local $s i32) (local $v v128)
    (call $print (i32.const 1024) (i32.const 9))
    (call $check (i32.const 65) (i64.extend_i32_u (global.get $started)))                   ;; A start
    ;; call_indirect over the active segment and a ref.func global
    (call $check (i32.const 66) (i64.extend_i32_s
      (i32.add
        (call_indirect $funcs (type $binop) (i32.const 6) (i32.const 3) (i32.const 0))
        (call_indirect $funcs (type $binop) (i32.const 6) (i32.const 3) (i32.const 5)))))  ;; B 9+3
    (table.set $funcs (i32.const 3) (global.get $fref))
    (call $check (i32.const 67) (i64.extend_i32_s
      (call_indirect $funcs (type $binop) (i32.const 6) (i32.const 7) (i32.const 3))))    ;; C 42
    ;; passive element segment, table.init/copy/fill/grow/size, ref.is_null
    (table.init $funcs $passive (i32.const 6) (i32.const 0) (i32.const 2))
    (call $check (i32.const 68) (i64.extend_i32_s
      (call_indirect $funcs (type $binop) (i32.const 84) (i32.const 2) (i32.const 6))))   ;; D 42
    (elem.drop $passive)
    (table.copy $funcs $funcs (i32.const 4) (i32.const 0) (i32.const 2))
    (call $check (i32.const 69) (i64.extend_i32_s
      (call_indirect $funcs (type $binop) (i32.const 5) (i32.const 8) (i32.const 4))))    ;; E 13
    (global.set $slot (ref.func $seven))
    (call $check (i32.const 70) (i64.extend_i32_u
      (i32.add (ref.is_null (global.get $slot)) (i32.mul (i32.const 10) (ref.is_null (table.get $funcs (i32.const 7)))))))
    (drop (table.grow $things (ref.null extern) (i32.const 3)))
    (table.fill $things (i32.const 0) (ref.null extern) (i32.const 7))
    (call $check (i32.const 71) (i64.extend_i32_u (table.size $things)))                   ;; G 7
    ;; bulk memory, passive data, memory.grow
    (memory.init $pdata (i32.const 3000) (i32.const 0) (i32.const 8))
    (data.drop $pdata)
    (memory.copy (i32.const 3100) (i32.const 3000) (i32.const 8))
    (memory.fill (i32.const 3104) (i32.const 33) (i32.const 4))
    (call $print (i32.const 3100) (i32.const 8))
    (call $check (i32.const 72) (i64.load (i32.const 3100)))                               ;; H
    (call $check (i32.const 73) (i64.extend_i32_s (memory.grow (i32.const 1))))            ;; I 1
    (call $check (i32.const 74) (i64.extend_i32_s (memory.grow (i32.const 100))))          ;; J -1
    (call $check (i32.const 75) (i64.extend_i32_u (memory.size)))                          ;; K 2
    ;; multi-value call and block, br_table, typed select
    (call $check (i32.const 76) (i64.extend_i32_u (i32.mul (call $pair (i32.const 6)))))   ;; L 42
    i32.const 77
    i32.const 50
    i32.const 8
    (block $blk (param i32 i32) (result i32) (i32.sub) (br $blk) (drop) (i32.const 0))
    i64.extend_i32_u
    call $check
    (call $check (i32.const 78) (i64.extend_i32_u (i32.add (i32.add
      (call $classify (i32.const 0)) (call $classify (i32.const 1))) (call $classify (i32.const 9)))))
    (call $check (i32.const 79) (select (result i64) (i64.const 5) (i64.const 6) (i32.const 0)))
    ;; sign extension and saturating truncation
    (call $check (i32.const 80) (i64.extend8_s (i64.const 0x80)))                          ;; P -128
    (call $check (i32.const 81) (i64.extend_i32_s (i32.extend16_s (i32.const 0x8000))))
    (call $check (i32.const 82) (i64.trunc_sat_f64_s (f64.const 1e300)))
    (call $check (i32.const 83) (i64.extend_i32_s (i32.trunc_sat_f32_u (f32.const -5))))
    ;; SIMD: const, shuffle, lanes, loads and stores with lanes, arithmetic
    (local.set $v (i32x4.add (v128.const i32x4 1 2 3 4) (i32x4.splat (i32.const 10))))
    (call $check (i32.const 84) (i64.extend_i32_u (i32x4.extract_lane 3 (local.get $v))))  ;; T 14
    (local.set $v (i8x16.shuffle 12 13 14 15 8 9 10 11 4 5 6 7 0 1 2 3 (local.get $v) (local.get $v)))
    (call $check (i32.const 85) (i64.extend_i32_u (i32x4.extract_lane 0 (local.get $v))))  ;; U 14
    (v128.store (i32.const 4000) (local.get $v))
    (local.set $v (v128.load32_lane 2 (i32.const 4000) (v128.const i64x2 0 0)))
    (call $check (i32.const 86) (i64x2.extract_lane 1 (local.get $v)))                    ;; V 14
    (v128.store8_lane 1 (i32.const 4100) (i16x8.replace_lane 0 (local.get $v) (i32.const 0x1234)))
    (call $check (i32.const 87) (i64.load8_u (i32.const 4100)))
    (call $check (i32.const 88) (i64.extend_i32_u (i32x4.extract_lane 2 (i32x4.dot_i16x8_s (v128.const i16x8 1 2 3 4 5 6 7 8) (v128.const i16x8 1 1 1 1 1 1 1 1)))))
    (call $check (i32.const 89) (i64.extend_i32_u (i8x16.bitmask (i8x16.popcnt (v128.load64_zero (i32.const 3100))))))
    (call $check (i32.const 90) (i64.trunc_f64_s (f64x2.extract_lane 1 (f64x2.sqrt (f64x2.splat (f64.const 144))))))
    ;; a loop with calls and an early exit
    (block $out
      (loop $l
        (local.set $s (i32.add (local.get $s) (call $seven)))
        (br_if $out (i32.gt_u (local.get $s) (i32.const 60)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (call $check (i32.const 97) (i64.extend_i32_u (i32.add (i32.mul (local.get $i) (i32.const 100)) (local.get $s))))
    (call $check (i32.const 98) (global.get $acc))
    (call $proc_exit (i32.wrap_i64 (i64.and (global.get $acc) (i64.const 0x7f))))))
