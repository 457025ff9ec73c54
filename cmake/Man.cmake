# Man pages: man/*.scd through scdoc when it is installed (as mosquitto's
# pages need xsltproc); without it the pages are skipped, not the build.
find_program(SCDOC scdoc)
if(SCDOC)
  file(GLOB RT_MAN_SOURCES CONFIGURE_DEPENDS
       ${CMAKE_CURRENT_SOURCE_DIR}/man/*.scd)
  set(RT_MAN_PAGES)
  foreach(src ${RT_MAN_SOURCES})
    get_filename_component(page ${src} NAME_WLE)          # rtctl-tail.1
    string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
    set(out ${CMAKE_CURRENT_BINARY_DIR}/man/${page})
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/man
      COMMAND ${SCDOC} < ${src} > ${out}
      DEPENDS ${src} VERBATIM)
    list(APPEND RT_MAN_PAGES ${out})
    install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  endforeach()
  add_custom_target(man ALL DEPENDS ${RT_MAN_PAGES})
else()
  message(STATUS "scdoc not found: man pages will not be built")
endif()
