# The warning set of STYLE.md 2.9; -Werror when RTCTL_WERROR is on (CI).
set(RT_WARNING_FLAGS
  -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wstrict-prototypes
  -Wmissing-prototypes)

function(rt_target_warnings target)
  target_compile_options(${target} PRIVATE ${RT_WARNING_FLAGS})
  if(RTCTL_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
