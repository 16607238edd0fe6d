/* The embedded demo Sovereign: core/demo.yaml, as bytes (see spec_load_demo). */
    .section .rodata
    .global catalyst_demo_yaml
    .global catalyst_demo_yaml_end
    .balign 16
catalyst_demo_yaml:
    .incbin "core/demo.yaml"
catalyst_demo_yaml_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
