# Warning and sanitizer flags shared by every vnuma target (through vnuma_build_flags).
add_library(vnuma_build_flags INTERFACE)
target_compile_options(vnuma_build_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wconversion -Wno-sign-conversion -Wnull-dereference
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  target_compile_options(vnuma_build_flags INTERFACE -Wthread-safety)
endif()
if(VNUMA_WERROR)
  target_compile_options(vnuma_build_flags INTERFACE -Werror)
endif()
if(VNUMA_SANITIZE)
  set(_san -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_compile_options(${_san})
  add_link_options(${_san})
endif()
