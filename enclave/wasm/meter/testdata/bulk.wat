;; Straight-line bulk memory operations (no loop, no call): each memory.fill is charged
;; by its length and checked before it runs.
(module
  (memory (export "memory") 1)
  (func (export "fill")
    (memory.fill (i32.const 0) (i32.const 1) (i32.const 32768))
    (memory.fill (i32.const 32768) (i32.const 2) (i32.const 32768))))
