#include "guest-agent/sys/Fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace vnuma::agent {

namespace {
Error fsError(const std::string& what, const std::string& path) {
  const int e = errno;
  return Error(e == ENOENT ? Errc::kNotFound : Errc::kSystem, what + " " + path, e);
}
}  // namespace

std::string joinPath(std::string_view root, std::string_view rel) {
  std::string out(root);
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  if (rel.empty()) return out.empty() ? "/" : out;
  if (out.empty() || out.back() != '/') out.push_back('/');
  out.append(rel);
  return out;
}

Result<std::string> readFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fsError("cannot open", path);
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      Error err = fsError("cannot read", path);
      ::close(fd);
      return err;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > (16u << 20)) {
      ::close(fd);
      return Error(Errc::kInvalidArgument, "file larger than 16 MiB: " + path);
    }
  }
  ::close(fd);
  return out;
}

Result<std::string> readTrimmed(const std::string& path) {
  auto r = readFile(path);
  if (!r) return r;
  std::string& s = r.value();
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == ' ' || s.back() == '\0' || s.back() == '\t'))
    s.pop_back();
  return r;
}

Result<void> writeExisting(const std::string& path, std::string_view value) {
  // O_TRUNC as a shell redirect does: ignored by kernel files, needed on fixture trees.
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return fsError("cannot open for writing", path);
  ssize_t n;
  do {
    n = ::write(fd, value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    Error err = fsError("cannot write '" + std::string(value) + "' to", path);
    ::close(fd);
    return err;
  }
  if (::close(fd) != 0) return fsError("cannot close", path);
  if (static_cast<std::size_t>(n) != value.size())
    return Error(Errc::kSystem, "short write to " + path, EIO);
  return okResult();
}

Result<std::vector<std::string>> listDir(const std::string& path, bool dirsOnly) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return fsError("cannot list", path);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (dirsOnly) {
      bool isDir = e->d_type == DT_DIR;
      if (e->d_type == DT_UNKNOWN || e->d_type == DT_LNK) {
        struct stat st {};
        isDir = ::stat((path + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
      }
      if (!isDir) continue;
    }
    names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool pathExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace vnuma::agent
