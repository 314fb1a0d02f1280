# Debian's hardening flags for every build type (Debug, Release,
# RelWithDebInfo, MinSizeRel and none): what `dpkg-buildflags` gives with
# every hardening feature on (DEB_BUILD_MAINT_OPTIONS=hardening=+all), read
# at configure time; without dpkg-buildflags, the same list written out.
#
#  - compiling: -fstack-protector-strong, -Wformat -Werror=format-security
#    (and whatever else this dpkg adds, such as -fstack-clash-protection or
#    -fcf-protection on newer releases);
#  - preprocessing: -D_FORTIFY_SOURCE=2 (or what dpkg says), only where it
#    means something: glibc checks nothing, and warns, without optimisation
#    (Debug, or no build type and no -O in CMAKE_C_FLAGS), and the
#    sanitizers do that checking themselves (BOURSE_SANITIZE);
#  - linking: -z relro -z now;
#  - position-independent executables (CMAKE_POSITION_INDEPENDENT_CODE).
#
# dpkg's -g and -O levels are dropped (the build type chooses those), and
# so is -ffile-prefix-map (it names the directory configure ran in). A
# packager's own CFLAGS, CPPFLAGS and LDFLAGS still come first, as CMake
# reads them from the environment.

set(BOURSE_HARDEN_CFLAGS -fstack-protector-strong -Wformat
    -Werror=format-security)
set(BOURSE_HARDEN_CPPFLAGS -D_FORTIFY_SOURCE=2)
set(BOURSE_HARDEN_LDFLAGS -Wl,-z,relro -Wl,-z,now)

set(how "built-in list: no dpkg-buildflags")
find_program(DPKG_BUILDFLAGS dpkg-buildflags)
if(DPKG_BUILDFLAGS)
  foreach(var CFLAGS CPPFLAGS LDFLAGS)
    execute_process(
      COMMAND ${CMAKE_COMMAND} -E env DEB_BUILD_MAINT_OPTIONS=hardening=+all
              ${DPKG_BUILDFLAGS} --get ${var}
      OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE rc ERROR_QUIET)
    if(rc EQUAL 0)
      separate_arguments(flags UNIX_COMMAND "${flags}")
      list(FILTER flags EXCLUDE REGEX "^-g|^-O|^-f(file|debug|macro)-prefix-map=")
      set(BOURSE_HARDEN_${var} ${flags})
      set(how "dpkg-buildflags")
    endif()
  endforeach()
endif()

set(CMAKE_POSITION_INDEPENDENT_CODE ON)
include(CheckPIESupported)
check_pie_supported()

# _FORTIFY_SOURCE apart: only with optimisation, never twice
set(fortify ${BOURSE_HARDEN_CPPFLAGS})
list(FILTER fortify INCLUDE REGEX "_FORTIFY_SOURCE")
list(FILTER BOURSE_HARDEN_CPPFLAGS EXCLUDE REGEX "_FORTIFY_SOURCE")
string(TOUPPER "${CMAKE_BUILD_TYPE}" type)
set(flags " ${CMAKE_C_FLAGS} ${CMAKE_C_FLAGS_${type}} ")
if(fortify AND NOT BOURSE_SANITIZE
   AND flags MATCHES " -O([1-3sgz]|fast)? " AND NOT flags MATCHES "_FORTIFY_SOURCE")
  list(PREPEND fortify -U_FORTIFY_SOURCE)
else()
  set(fortify "")
endif()

add_compile_options(${BOURSE_HARDEN_CFLAGS} ${BOURSE_HARDEN_CPPFLAGS} ${fortify})
add_link_options(${BOURSE_HARDEN_LDFLAGS})
set(all ${BOURSE_HARDEN_CFLAGS} ${BOURSE_HARDEN_CPPFLAGS} ${fortify}
    ${BOURSE_HARDEN_LDFLAGS})
list(JOIN all " " all)
message(STATUS "Hardening (${how}): ${all}")
