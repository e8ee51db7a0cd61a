# podstat_bpf_object(<name> <source.bpf.c>)
#
# Compiles one BPF object with clang (-target bpf, -g for BTF, -O2, CO-RE against the committed
# vmlinux/x86/vmlinux.h) and generates its libbpf skeleton with `bpftool gen skeleton`, then
# exposes it as the INTERFACE library <name>_skel, whose include directory holds
# podstat/skel/<name>.skel.h.

find_program(PODSTAT_CLANG NAMES clang clang-16 clang-15 clang-14 REQUIRED)
find_program(PODSTAT_BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf)

set(PODSTAT_BPF_ARCH x86)

function(podstat_bpf_object name source)
  set(object ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
  set(skeleton_dir ${PODSTAT_GENERATED_DIR}/podstat/skel)
  set(skeleton ${skeleton_dir}/${name}.skel.h)
  file(GLOB bpf_headers CONFIGURE_DEPENDS
       ${PROJECT_SOURCE_DIR}/bpf/*.bpf.h ${PODSTAT_INCLUDE_DIR}/podstat/abi/*.h)

  add_custom_command(
    OUTPUT ${object}
    COMMAND ${PODSTAT_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${PODSTAT_BPF_ARCH}
            -Wall -Werror ${PODSTAT_PATH_MAP_FLAGS}
            -I${PROJECT_SOURCE_DIR}/vmlinux/${PODSTAT_BPF_ARCH}
            -I${PROJECT_SOURCE_DIR}/bpf -I${PODSTAT_INCLUDE_DIR} ${LIBBPF_CFLAGS}
            -c ${CMAKE_CURRENT_SOURCE_DIR}/${source} -o ${object}
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${source} ${bpf_headers}
            ${PROJECT_SOURCE_DIR}/vmlinux/${PODSTAT_BPF_ARCH}/vmlinux.h
    COMMENT "BPF ${source}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skeleton}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${skeleton_dir}
    COMMAND sh -c "${PODSTAT_BPFTOOL} gen skeleton ${object} name ${name} > ${skeleton}.tmp && mv ${skeleton}.tmp ${skeleton}"
    DEPENDS ${object}
    COMMENT "skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skeleton})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${PODSTAT_GENERATED_DIR})
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
endfunction()
