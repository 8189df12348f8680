;; infinite_loop: spins forever in _start; only a deadline stops it.
(module
  (func (export "_start")
    (loop $spin (br $spin))))
