// Writing a file so that no one ever sees half of it: the writers of io/ write
// under a temporary name in the destination's folder, flush it to disk, then
// rename it over the destination (rename(2) replaces atomically on POSIX file
// systems). A crash or an error leaves the old file, or no file, and no
// temporary file behind (unless the process itself dies mid-write).
//
// The temporary file is ".<name>.tmp-<pid>-<n>" beside `path`, created with
// O_EXCL and the usual permissions (0666 less the umask). When `path` is a
// symbolic link, the link is replaced, not its target.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace parity::io {

// Calls write(temp_path) to write the whole file under a temporary name (the
// file exists, empty, when it is called), then fsyncs it and renames it to
// `path`. If `write` throws, or anything else fails, the temporary file is
// removed and `path` is left as it was; errors are parity::Error naming `op`
// ("save_safetensors") and the path.
void write_atomically(const std::string& path, std::string_view op,
                      const std::function<void(const std::string& temp_path)>& write);

}  // namespace parity::io
