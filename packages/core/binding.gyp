{
  "targets": [
    {
      "target_name": "page_routines",
      "sources": ["native/page_routines.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
