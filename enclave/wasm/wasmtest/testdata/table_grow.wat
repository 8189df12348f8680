;; table_grow: declares a table without a maximum (as Go's linker does), grows it by 1
;; element, then by 2^31 - 1 elements. It exits 0 when the first grow succeeded and the
;; second failed (returned -1), as it must under a table limit; 1 when the first failed;
;; 2 when the huge grow succeeded. A runtime without a table limit tries to allocate
;; 16 GiB for the second grow, so run it only on an executor that bounds tables.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (table $t 1 funcref)
  (func (export "_start")
    (if (i32.ne (table.grow $t (ref.null func) (i32.const 1)) (i32.const 1))
      (then (call $proc_exit (i32.const 1))))
    (if (i32.ne (table.grow $t (ref.null func) (i32.const 0x7fffffff)) (i32.const -1))
      (then (call $proc_exit (i32.const 2))))))
