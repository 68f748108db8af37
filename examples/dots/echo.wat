;; echo.wat — outputs its input unchanged.
;;
;; The input is copied to address 0; memory grows first if the input does not
;; fit in the current pages (growing past the VM's memory cap aborts the run).
(module
  (import "env" "input_len" (func $input_len (result i32)))
  (import "env" "input_read" (func $input_read (param $ptr i32)))
  (import "env" "output_write" (func $output_write (param $ptr i32) (param $len i32)))

  (memory (export "memory") 1)

  (func (export "echo")
    (local $len i32)
    (local $pages_needed i32)
    (local.set $len (call $input_len))
    ;; pages_needed = ceil(len / 65536)
    (local.set $pages_needed
      (i32.shr_u (i32.add (local.get $len) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $pages_needed) (memory.size))
      (then
        (drop (memory.grow (i32.sub (local.get $pages_needed) (memory.size))))))
    (call $input_read (i32.const 0))
    (call $output_write (i32.const 0) (local.get $len))))
