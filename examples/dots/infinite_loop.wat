;; infinite_loop.wat — writes state, emits an event, then loops forever.
;;
;; `run` never returns: the VM stops it when its fuel runs out. Because an
;; execution's effects are atomic, the state write ("touched" = "yes") and the
;; event are discarded: after the failed run the dot's state is still empty.
(module
  (import "env" "state_set"
    (func $state_set (param i32 i32 i32 i32)))
  (import "env" "emit_event"
    (func $emit_event (param i32 i32 i32 i32)))

  ;; bytes 0..7 "touched" (key), 16..19 "yes" (value), 32..39 "started" (topic)
  (memory (export "memory") 1)
  (data (i32.const 0) "touched")
  (data (i32.const 16) "yes")
  (data (i32.const 32) "started")

  (func (export "run")
    (call $state_set (i32.const 0) (i32.const 7) (i32.const 16) (i32.const 3))
    (call $emit_event (i32.const 32) (i32.const 7) (i32.const 16) (i32.const 3))
    (loop $forever
      (br $forever))))
