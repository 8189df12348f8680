;; SHA-256 (FIPS 180-4) over linear memory, written by hand for the metering
;; benchmarks: sha256(ptr, len, out) hashes [ptr, ptr+len) and writes the 32-byte digest
;; at out. Layout: round constants K at 0..255, the message schedule W at 256..511, the
;; padding buffer at 512..639; callers put their data at 4096 or above.
(module
  (memory (export "memory") 18)
  (global $h0 (mut i32) (i32.const 0))
  (global $h1 (mut i32) (i32.const 0))
  (global $h2 (mut i32) (i32.const 0))
  (global $h3 (mut i32) (i32.const 0))
  (global $h4 (mut i32) (i32.const 0))
  (global $h5 (mut i32) (i32.const 0))
  (global $h6 (mut i32) (i32.const 0))
  (global $h7 (mut i32) (i32.const 0))
  (data (i32.const 0) "\98\2f\8a\42\91\44\37\71\cf\fb\c0\b5\a5\db\b5\e9\5b\c2\56\39\f1\11\f1\59\a4\82\3f\92\d5\5e\1c\ab\98\aa\07\d8\01\5b\83\12\be\85\31\24\c3\7d\0c\55\74\5d\be\72\fe\b1\de\80\a7\06\dc\9b\74\f1\9b\c1\c1\69\9b\e4\86\47\be\ef\c6\9d\c1\0f\cc\a1\0c\24\6f\2c\e9\2d\aa\84\74\4a\dc\a9\b0\5c\da\88\f9\76\52\51\3e\98\6d\c6\31\a8\c8\27\03\b0\c7\7f\59\bf\f3\0b\e0\c6\47\91\a7\d5\51\63\ca\06\67\29\29\14\85\0a\b7\27\38\21\1b\2e\fc\6d\2c\4d\13\0d\38\53\54\73\0a\65\bb\0a\6a\76\2e\c9\c2\81\85\2c\72\92\a1\e8\bf\a2\4b\66\1a\a8\70\8b\4b\c2\a3\51\6c\c7\19\e8\92\d1\24\06\99\d6\85\35\0e\f4\70\a0\6a\10\16\c1\a4\19\08\6c\37\1e\4c\77\48\27\b5\bc\b0\34\b3\0c\1c\39\4a\aa\d8\4e\4f\ca\9c\5b\f3\6f\2e\68\ee\82\8f\74\6f\63\a5\78\14\78\c8\84\08\02\c7\8c\fa\ff\be\90\eb\6c\50\a4\f7\a3\f9\be\f2\78\71\c6")

  ;; bswap converts a big-endian word to the machine's little-endian order.
  (func $bswap (param $x i32) (result i32)
    (i32.or
      (i32.and (i32.rotl (local.get $x) (i32.const 8)) (i32.const 0x00ff00ff))
      (i32.and (i32.rotr (local.get $x) (i32.const 8)) (i32.const 0xff00ff00))))

  (func $bswap64 (param $x i64) (result i64)
    (i64.or
      (i64.shl (i64.extend_i32_u (call $bswap (i32.wrap_i64 (local.get $x)))) (i64.const 32))
      (i64.extend_i32_u (call $bswap (i32.wrap_i64 (i64.shr_u (local.get $x) (i64.const 32)))))))

  ;; compress processes the 64-byte block at $p into the state $h0..$h7.
  (func $compress (param $p i32)
    (local $i i32) (local $x i32) (local $y i32) (local $t1 i32) (local $t2 i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32) (local $e i32) (local $f i32) (local $g i32) (local $h i32)
    (loop $load
      (i32.store offset=256 (local.get $i)
        (call $bswap (i32.load (i32.add (local.get $p) (local.get $i)))))
      (br_if $load (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 4))) (i32.const 64))))
    (loop $schedule
      (local.set $x (i32.load offset=248 (local.get $i)))
      (local.set $y (i32.load offset=196 (local.get $i)))
      (i32.store offset=256 (local.get $i)
        (i32.add
          (i32.add (i32.xor (i32.xor (i32.rotr (local.get $x) (i32.const 17)) (i32.rotr (local.get $x) (i32.const 19))) (i32.shr_u (local.get $x) (i32.const 10))) (i32.load offset=228 (local.get $i)))
          (i32.add (i32.xor (i32.xor (i32.rotr (local.get $y) (i32.const 7)) (i32.rotr (local.get $y) (i32.const 18))) (i32.shr_u (local.get $y) (i32.const 3))) (i32.load offset=192 (local.get $i)))))
      (br_if $schedule (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 4))) (i32.const 256))))
    (local.set $a (global.get $h0))
    (local.set $b (global.get $h1))
    (local.set $c (global.get $h2))
    (local.set $d (global.get $h3))
    (local.set $e (global.get $h4))
    (local.set $f (global.get $h5))
    (local.set $g (global.get $h6))
    (local.set $h (global.get $h7))
    (local.set $i (i32.const 0))
    (loop $round
      (local.set $t1
        (i32.add
          (i32.add
            (i32.add (local.get $h) (i32.xor (i32.xor (i32.rotr (local.get $e) (i32.const 6)) (i32.rotr (local.get $e) (i32.const 11))) (i32.rotr (local.get $e) (i32.const 25))))
            (i32.xor (local.get $g) (i32.and (local.get $e) (i32.xor (local.get $f) (local.get $g)))))
          (i32.add (i32.load (local.get $i)) (i32.load offset=256 (local.get $i)))))
      (local.set $t2
        (i32.add (i32.xor (i32.xor (i32.rotr (local.get $a) (i32.const 2)) (i32.rotr (local.get $a) (i32.const 13))) (i32.rotr (local.get $a) (i32.const 22)))
          (i32.or (i32.and (local.get $a) (local.get $b))
                  (i32.and (local.get $c) (i32.or (local.get $a) (local.get $b))))))
      (local.set $h (local.get $g))
      (local.set $g (local.get $f))
      (local.set $f (local.get $e))
      (local.set $e (i32.add (local.get $d) (local.get $t1)))
      (local.set $d (local.get $c))
      (local.set $c (local.get $b))
      (local.set $b (local.get $a))
      (local.set $a (i32.add (local.get $t1) (local.get $t2)))
      (br_if $round (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 4))) (i32.const 256))))
    (global.set $h0 (i32.add (global.get $h0) (local.get $a)))
    (global.set $h1 (i32.add (global.get $h1) (local.get $b)))
    (global.set $h2 (i32.add (global.get $h2) (local.get $c)))
    (global.set $h3 (i32.add (global.get $h3) (local.get $d)))
    (global.set $h4 (i32.add (global.get $h4) (local.get $e)))
    (global.set $h5 (i32.add (global.get $h5) (local.get $f)))
    (global.set $h6 (i32.add (global.get $h6) (local.get $g)))
    (global.set $h7 (i32.add (global.get $h7) (local.get $h))))

  (func (export "sha256") (param $p i32) (param $n i32) (param $out i32)
    (local $end i32) (local $rem i32) (local $bits i64)
    (global.set $h0 (i32.const 0x6a09e667))
    (global.set $h1 (i32.const 0xbb67ae85))
    (global.set $h2 (i32.const 0x3c6ef372))
    (global.set $h3 (i32.const 0xa54ff53a))
    (global.set $h4 (i32.const 0x510e527f))
    (global.set $h5 (i32.const 0x9b05688c))
    (global.set $h6 (i32.const 0x1f83d9ab))
    (global.set $h7 (i32.const 0x5be0cd19))
    (local.set $end (i32.add (local.get $p) (i32.and (local.get $n) (i32.const -64))))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (call $compress (local.get $p))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br $blocks)))
    (local.set $rem (i32.and (local.get $n) (i32.const 63)))
    (memory.fill (i32.const 512) (i32.const 0) (i32.const 128))
    (memory.copy (i32.const 512) (local.get $p) (local.get $rem))
    (i32.store8 offset=512 (local.get $rem) (i32.const 0x80))
    (local.set $bits (i64.shl (i64.extend_i32_u (local.get $n)) (i64.const 3)))
    (if (i32.ge_u (local.get $rem) (i32.const 56))
      (then
        (i64.store (i32.const 632) (call $bswap64 (local.get $bits)))
        (call $compress (i32.const 512))
        (call $compress (i32.const 576)))
      (else
        (i64.store (i32.const 568) (call $bswap64 (local.get $bits)))
        (call $compress (i32.const 512))))
    (i32.store offset=0 (local.get $out) (call $bswap (global.get $h0)))
    (i32.store offset=4 (local.get $out) (call $bswap (global.get $h1)))
    (i32.store offset=8 (local.get $out) (call $bswap (global.get $h2)))
    (i32.store offset=12 (local.get $out) (call $bswap (global.get $h3)))
    (i32.store offset=16 (local.get $out) (call $bswap (global.get $h4)))
    (i32.store offset=20 (local.get $out) (call $bswap (global.get $h5)))
    (i32.store offset=24 (local.get $out) (call $bswap (global.get $h6)))
    (i32.store offset=28 (local.get $out) (call $bswap (global.get $h7)))))
