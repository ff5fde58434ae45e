//===- MappedFile.cpp - read-only bytes of a file or a buffer -------------===//
//
// mmap(PROT_READ, MAP_PRIVATE) of a whole file, or an aligned in-memory copy.
//
//===----------------------------------------------------------------------===//

#include "onerec/Runtime/MappedFile.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace onerec::runtime {

namespace {
/// Closes a descriptor on every path out of open().
struct FileDescriptor {
  int fd;
  ~FileDescriptor() {
    if (fd >= 0)
      ::close(fd);
  }
};
} // namespace

StatusOr<std::unique_ptr<MappedFile>>
MappedFile::open(const std::string &path) {
  FileDescriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) {
    int error = errno;
    return Status::error(
        error == ENOENT ? Status::Code::NotFound : Status::Code::IoError,
        fmt::format("{}: cannot open: {}", path, std::strerror(error)));
  }
  struct stat info;
  if (::fstat(file.fd, &info) != 0)
    return Status::error(
        Status::Code::IoError,
        fmt::format("{}: cannot stat: {}", path, std::strerror(errno)));
  if (!S_ISREG(info.st_mode))
    return Status::error(Status::Code::InvalidArgument,
                         fmt::format("{}: not a regular file", path));
  std::unique_ptr<MappedFile> mapped(new MappedFile(path));
  if (info.st_size == 0)
    return mapped;
  size_t size = static_cast<size_t>(info.st_size);
  void *mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, file.fd, 0);
  if (mapping == MAP_FAILED)
    return Status::error(Status::Code::IoError,
                         fmt::format("{}: cannot map {} bytes: {}", path, size,
                                     std::strerror(errno)));
  mapped->mapping_ = mapping;
  mapped->mappingSize_ = size;
  mapped->data_ = static_cast<const uint8_t *>(mapping);
  mapped->size_ = size;
  return mapped;
}

std::unique_ptr<MappedFile> MappedFile::copyOf(const void *data, size_t size,
                                               std::string name) {
  std::unique_ptr<MappedFile> copy(new MappedFile(std::move(name)));
  copy->copy_ = AlignedBuffer(size);
  if (size)
    std::memcpy(copy->copy_.data(), data, size);
  copy->data_ = reinterpret_cast<const uint8_t *>(copy->copy_.data());
  copy->size_ = size;
  return copy;
}

MappedFile::~MappedFile() {
  if (mapping_)
    ::munmap(mapping_, mappingSize_);
}

} // namespace onerec::runtime
