# revision.cmake: writes version.h (the program's version and the git
# revision of the source tree) at build time.  Run by the ising_revision
# target before every build of isingcore (CMakeLists.txt) and once at
# configure time, so a binary built after a commit or a local edit records
# that revision, not the one of the last configure.  configure_file leaves
# the header untouched when its text is unchanged, so only a new revision
# recompiles the files that include it.
#
#   cmake -DSOURCE_DIR=<tree> -DOUTPUT=<version.h> -DPROJECT_VERSION=<x.y.z> -P revision.cmake
execute_process(COMMAND git rev-parse --short=12 HEAD
                WORKING_DIRECTORY ${SOURCE_DIR}
                OUTPUT_VARIABLE ISING_GIT_REVISION OUTPUT_STRIP_TRAILING_WHITESPACE
                ERROR_QUIET RESULT_VARIABLE git_rc)
if(NOT git_rc EQUAL 0 OR ISING_GIT_REVISION STREQUAL "")
  set(ISING_GIT_REVISION "unknown")
else()
  execute_process(COMMAND git status --porcelain --untracked-files=no
                  WORKING_DIRECTORY ${SOURCE_DIR}
                  OUTPUT_VARIABLE git_dirty ERROR_QUIET)
  if(NOT git_dirty STREQUAL "")
    string(APPEND ISING_GIT_REVISION "-dirty")
  endif()
endif()
configure_file(${SOURCE_DIR}/include/ising/version.h.in ${OUTPUT} @ONLY)
