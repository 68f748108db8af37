;; counter.wat — a persistent counter.
;;
;; State: the key "count" holds the counter as an 8-byte little-endian unsigned
;; integer (u64). A missing key (or a value that is not 8 bytes) counts as 0.
;;
;; Functions:
;;   increment  adds 1 to "count", emits the event "incremented" whose data is
;;              the new value, and outputs the new value (8 bytes, little-endian)
;;   get        outputs the current value (8 bytes, little-endian)
(module
  ;; Host functions provided by the VM (see vm/src/host.rs).
  (import "env" "state_get"
    (func $state_get (param $key_ptr i32) (param $key_len i32)
                     (param $val_ptr i32) (param $val_cap i32) (result i32)))
  (import "env" "state_set"
    (func $state_set (param $key_ptr i32) (param $key_len i32)
                     (param $val_ptr i32) (param $val_len i32)))
  (import "env" "emit_event"
    (func $emit_event (param $topic_ptr i32) (param $topic_len i32)
                      (param $data_ptr i32) (param $data_len i32)))
  (import "env" "output_write"
    (func $output_write (param $ptr i32) (param $len i32)))

  ;; One 64 KiB page of memory, exported so the host can read and write it.
  ;; Layout:
  ;;   bytes  0..5   "count"        the state key
  ;;   bytes 16..27  "incremented"  the event topic
  ;;   bytes 64..72  scratch space for the 8-byte counter value
  (memory (export "memory") 1)
  (data (i32.const 0) "count")
  (data (i32.const 16) "incremented")

  ;; Reads the stored counter (0 if absent) into scratch space and returns it.
  (func $load (result i64)
    ;; state_get returns the stored value's length, or -1 if the key is absent.
    (if (i32.eq
          (call $state_get (i32.const 0) (i32.const 5) (i32.const 64) (i32.const 8))
          (i32.const 8))
      (then (return (i64.load (i32.const 64)))))
    (i64.const 0))

  (func (export "increment")
    ;; scratch = load() + 1  (i64.store writes little-endian)
    (i64.store (i32.const 64) (i64.add (call $load) (i64.const 1)))
    ;; state["count"] = scratch
    (call $state_set (i32.const 0) (i32.const 5) (i32.const 64) (i32.const 8))
    ;; event "incremented" with the new value
    (call $emit_event (i32.const 16) (i32.const 11) (i32.const 64) (i32.const 8))
    ;; output = new value
    (call $output_write (i32.const 64) (i32.const 8)))

  (func (export "get")
    (i64.store (i32.const 64) (call $load))
    (call $output_write (i32.const 64) (i32.const 8))))
