;; deep_recursion: calls itself without end; the engine traps with "stack overflow".
(module
  (func $down (param $depth i64) (result i64)
    (i64.add (call $down (i64.add (local.get $depth) (i64.const 1))) (local.get $depth)))
  (func (export "_start")
    (drop (call $down (i64.const 0)))))
