"""The one place ionsim's compiler options and its fuzzer rule live."""

# Compiler options for every ionsim target (DESIGN.md section 4: one constant).
IONSIM_COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wno-missing-field-initializers",
]

def ionsim_fuzzer(name, srcs, corpus, deps = [], dict = None):
    """A libFuzzer harness, plus a test that replays its committed seed corpus.

    Under --config=fuzz, `name` links libFuzzer's main. In every other config it links
    //fuzz:replay_main, a driver that runs each file or directory given on the command line once, so
    the same harness is an ordinary program and its corpus replay is part of `bazel test //...`.

    Args:
      name: the fuzzer binary.
      srcs: sources defining LLVMFuzzerTestOneInput.
      corpus: a glob of committed seed inputs.
      deps: libraries the harness needs.
      dict: an optional libFuzzer dictionary file.
    """
    native.cc_binary(
        name = name,
        testonly = True,
        srcs = srcs,
        copts = IONSIM_COPTS,
        linkopts = select({
            "//:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        deps = deps + select({
            "//:fuzzing": [],
            "//conditions:default": ["//fuzz:replay_main"],
        }),
    )
    data = corpus + ([dict] if dict else [])
    native.filegroup(
        name = name + "_corpus",
        testonly = True,
        srcs = corpus,
    )
    native.sh_test(
        name = name + "_corpus_test",
        srcs = ["//fuzz:replay_corpus.sh"],
        args = ["$(location :%s)" % name] + ["$(location %s)" % f for f in corpus],
        data = [":" + name] + data,
    )
