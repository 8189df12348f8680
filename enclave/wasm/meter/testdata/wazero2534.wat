;; wazero v1.12.0 miscompiles this on amd64 (issue 2534, fixed by pull request 2535 after
;; the release): a float select whose destination register is evicted returns garbage.
;; f(_, 21.0, _) must return the global, -36.9; the compiler returns 0. Metering adds
;; register pressure and so meets this bug more often than unmetered code does.
(module
  (memory 1)
  (global $g (mut f32) (f32.const -36.9))
  (global $i (mut i64) (i64.const 1000))
  (func $nop)
  (func (export "f") (param i64 f32 f64) (result f32)
    (local i32 f32)
    call $nop
    loop
      global.get $i
      i64.const 2
      i64.lt_s
      br_if 0
      local.get 3
      if (result f32)
        i32.const 5571
        local.get 1
        f32.store offset=8
        f32.const 0.5
      else
        local.get 1
        global.get $g
        i32.const 0
        select (result f32)
      end
      return
    end
    unreachable))
