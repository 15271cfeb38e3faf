# Turns vendor-manifest.json into a C array, so the pins are compiled into the
# library: cmake -DIN=vendor-manifest.json -DOUT=manifest_data.c -P embed_manifest.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n    " bytes "${bytes}")
file(WRITE "${OUT}.tmp" "/* Generated from vendor-manifest.json by bootstrap/embed_manifest.cmake. */\n#include <stddef.h>\nconst char pgb_builtin_manifest[] = {\n    ${bytes}0x00};\nconst size_t pgb_builtin_manifest_len = ${len};\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
