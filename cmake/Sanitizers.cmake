# RTCTL_ASAN: AddressSanitizer + UndefinedBehaviorSanitizer for every target,
# any report fatal, so that a sanitizer finding fails the test that hit it.
if(RTCTL_ASAN)
  set(RT_SAN_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
                   -fno-omit-frame-pointer)
  add_compile_options(${RT_SAN_FLAGS})
  add_link_options(-fsanitize=address,undefined)
endif()

# RTCTL_FUZZ: give the library coverage instrumentation so libFuzzer can
# steer; the fuzz targets themselves add -fsanitize=fuzzer (tests/).
if(RTCTL_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
