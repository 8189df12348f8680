;; A WASI command whose _start spins forever: only fuel or a deadline stops it.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $l (br $l))))
