#include "runtime/input_file.h"

#include <sys/types.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "runtime/error.h"

namespace rosetta {

InputFile::InputFile(const std::string& path, const std::string& kind) : path_(path) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (status.type() == fs::file_type::not_found) ROSETTA_INPUT_ERROR(path << ": no such file");
  if (error) ROSETTA_INPUT_ERROR(path << ": cannot open: " << error.message());
  if (fs::is_directory(status)) ROSETTA_INPUT_ERROR(path << ": is a directory, not " << kind);
  if (!fs::is_regular_file(status)) ROSETTA_INPUT_ERROR(path << ": is not a regular file");
  file_.reset(std::fopen(path.c_str(), "rb"));
  if (!file_) ROSETTA_INPUT_ERROR(path << ": cannot open: " << std::strerror(errno));
  if (fseeko(file_.get(), 0, SEEK_END) != 0) ROSETTA_INPUT_ERROR(path << ": cannot seek: " << std::strerror(errno));
  const off_t end = ftello(file_.get());
  if (end < 0) ROSETTA_INPUT_ERROR(path << ": cannot tell its size: " << std::strerror(errno));
  size_ = static_cast<std::uint64_t>(end);
}

void InputFile::read_at(std::uint64_t offset, void* out, std::size_t bytes, const std::string& what) const {
  if (bytes == 0) return;
  errno = 0;
  const bool read = fseeko(file_.get(), static_cast<off_t>(offset), SEEK_SET) == 0 &&
                    std::fread(out, 1, bytes, file_.get()) == bytes;
  if (!read)
    ROSETTA_INPUT_ERROR(path_ << ": cannot read " << what << ": " << bytes << " bytes at byte " << offset << " ("
                              << (errno != 0 ? std::strerror(errno) : "the file ends first") << ")");
}

}  // namespace rosetta
