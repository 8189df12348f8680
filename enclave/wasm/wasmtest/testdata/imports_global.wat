;; imports_global: imports a global (env.limit), a non-function import no node provides.
(module
  (import "env" "limit" (global $limit i32))
  (func (export "_start")
    (if (i32.eqz (global.get $limit)) (then (unreachable)))))
