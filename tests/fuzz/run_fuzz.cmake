# Runs one libFuzzer target for SECONDS from a scratch copy of CORPUS.
# cmake -DFUZZER=... -DCORPUS=... -DDICT=... -DWORKDIR=... -DSECONDS=... -P run_fuzz.cmake
# Each input gets at most 5 s (a hang), the process at most 2 GiB (a leak).
file(REMOVE_RECURSE ${WORKDIR})
file(MAKE_DIRECTORY ${WORKDIR}/corpus ${WORKDIR}/artifacts)
file(GLOB seeds ${CORPUS}/*)
file(COPY ${seeds} DESTINATION ${WORKDIR}/corpus)
execute_process(
    COMMAND ${FUZZER} ${WORKDIR}/corpus
        -dict=${DICT}
        -max_total_time=${SECONDS}
        -rss_limit_mb=2048
        -timeout=5
        -print_final_stats=1
        -artifact_prefix=${WORKDIR}/artifacts/
    RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "fuzzer exited with ${rc}; the failing input is in ${WORKDIR}/artifacts")
endif()
