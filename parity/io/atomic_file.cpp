#include "parity/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "parity/tensor/error.h"

namespace parity::io {

namespace {

std::string errno_text(int error) { return std::strerror(error); }

// fsync(2) of a file or folder by name; false with errno set on failure.
bool sync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return ok;
}

}  // namespace

void write_atomically(const std::string& path, std::string_view op,
                      const std::function<void(const std::string& temp_path)>& write) {
  namespace fs = std::filesystem;
  PARITY_CHECK(!path.empty(), op, ": the path is empty");
  const fs::path target(path);
  PARITY_CHECK(target.has_filename(), op, ": ", path, " names a folder, not a file");
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");

  static std::atomic<unsigned> counter{0};
  std::string temp;
  for (int attempt = 0;; ++attempt) {
    std::string name(1, '.');
    name += target.filename().string();
    name += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
    temp = (folder / name).string();
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      ::close(fd);
      break;
    }
    const int error = errno;
    PARITY_CHECK(error == EEXIST && attempt < 100, op, ": ", path, ": cannot create a temporary file in '",
                 folder.string(), "': ", errno_text(error));
  }
  try {
    write(temp);
    PARITY_CHECK(sync_path(temp, O_RDONLY), op, ": ", path, ": cannot flush the temporary file ", temp, ": ",
                 errno_text(errno));
    PARITY_CHECK(std::rename(temp.c_str(), path.c_str()) == 0, op, ": ", path, ": cannot rename ", temp,
                 " to it: ", errno_text(errno));
  } catch (...) {
    std::remove(temp.c_str());
    throw;
  }
  // The rename itself reaches the disk with the folder's entry; best effort
  // (some file systems refuse fsync on a folder), the file is complete either way.
  sync_path(folder.string(), O_RDONLY | O_DIRECTORY);
}

}  // namespace parity::io
