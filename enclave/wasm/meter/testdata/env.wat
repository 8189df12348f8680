;; The "env" module that modules from metertest.Generate with Imports import:
;; imp(x) = 3x + 1 and the immutable global ig = 7.
(module
  (func (export "imp") (param i32) (result i32)
    (i32.add (i32.mul (local.get 0) (i32.const 3)) (i32.const 1)))
  (global (export "ig") i32 (i32.const 7)))
