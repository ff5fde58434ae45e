//===- Checkpoint.cpp - atomic training checkpoints -----------------------===//

#include "onerec/Driver/Checkpoint.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using onerec::runtime::ParameterStore;
using onerec::runtime::Status;
using onerec::runtime::StatusOr;
namespace fs = std::filesystem;

namespace onerec::driver {

namespace {

constexpr const char *kFormat = "onerec-checkpoint";
constexpr int kVersion = 1;
constexpr const char *kPrefix = "ckpt-";
constexpr const char *kMetaSuffix = ".json";
constexpr const char *kWeightsSuffix = ".safetensors";
constexpr const char *kPartialSuffix = ".partial";

Status ioError(const std::string &path, const char *what) {
  return Status::error(
      Status::Code::IoError,
      fmt::format("{}: cannot {}: {}", path, what, std::strerror(errno)));
}

/// The step of "ckpt-0000000012<suffix>", or -1.
int64_t stepOf(const std::string &name, const std::string &suffix) {
  size_t prefix = std::strlen(kPrefix);
  if (name.size() <= prefix + suffix.size() || name.rfind(kPrefix, 0) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return -1;
  std::string digits =
      name.substr(prefix, name.size() - prefix - suffix.size());
  if (digits.empty() || digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(),
                   [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  return std::stoll(digits);
}

Status writeFileDurably(const std::string &path, const std::string &text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return ioError(path, "create");
  const char *p = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      Status s = ioError(path, "write");
      ::close(fd);
      return s;
    }
    p += n;
    left -= size_t(n);
  }
  if (::fsync(fd) != 0) {
    Status s = ioError(path, "fsync");
    ::close(fd);
    return s;
  }
  if (::close(fd) != 0)
    return ioError(path, "close");
  return Status::ok();
}

std::string hex64(uint64_t value) { return fmt::format("{:016x}", value); }

} // namespace

Status syncPath(const std::string &path, bool directory) {
  int fd = ::open(path.c_str(),
                  (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0)
    return ioError(path, "open for fsync");
  int rc = ::fsync(fd);
  Status s = rc == 0 ? Status::ok() : ioError(path, "fsync");
  ::close(fd);
  return s;
}

StatusOr<uint64_t> fileChecksum(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return ioError(path, "open");
  uint64_t hash = 0xcbf29ce484222325ULL;
  std::vector<unsigned char> buffer(size_t(1) << 20);
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      Status s = ioError(path, "read");
      ::close(fd);
      return s;
    }
    if (n == 0)
      break;
    for (ssize_t i = 0; i < n; ++i) {
      hash ^= buffer[size_t(i)];
      hash *= 0x100000001b3ULL;
    }
  }
  ::close(fd);
  return hash;
}

std::string formatCheckpointMeta(const CheckpointMeta &meta) {
  nlohmann::ordered_json j;
  j["format"] = kFormat;
  j["version"] = kVersion;
  j["step"] = meta.step;
  j["epoch"] = meta.epoch;
  j["examples"] = meta.examples;
  j["seed"] = meta.seed;
  j["wall_s"] = meta.wallS;
  j["plan"] = {{"model", meta.planModel}, {"source_hash", meta.planSourceHash}};
  j["hyperparams"] = nlohmann::ordered_json::parse(meta.hyperparams.toJson());
  j["data_position"] = nlohmann::ordered_json::parse(meta.dataPosition);
  j["dataset"] = nlohmann::ordered_json::parse(meta.dataset);
  j["run"] = nlohmann::ordered_json::parse(meta.run);
  j["weights"] = {{"file", meta.weightsFile},
                  {"bytes", meta.weightsBytes},
                  {"fnv1a64", hex64(meta.weightsChecksum)}};
  return j.dump(2) + "\n";
}

StatusOr<CheckpointMeta> parseCheckpointMeta(const std::string &text,
                                             const std::string &what) {
  auto bad = [&](const std::string &why) {
    return Status::error(
        Status::Code::Corrupt,
        fmt::format("{}: not a valid onerec checkpoint: {}", what, why));
  };
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object())
    return bad("not a JSON object");
  CheckpointMeta meta;
  try {
    if (j.at("format").get<std::string>() != kFormat)
      return bad("its format is not 'onerec-checkpoint'");
    if (j.at("version").get<int>() != kVersion)
      return bad(fmt::format("version {} (this build reads {})",
                             j.at("version").dump(), kVersion));
    meta.step = j.at("step").get<int64_t>();
    meta.epoch = j.at("epoch").get<int64_t>();
    meta.examples = j.at("examples").get<int64_t>();
    meta.seed = j.at("seed").get<uint64_t>();
    meta.wallS = j.at("wall_s").get<double>();
    meta.planModel = j.at("plan").at("model").get<std::string>();
    meta.planSourceHash = j.at("plan").at("source_hash").get<std::string>();
    StatusOr<Hyperparams> h =
        Hyperparams::fromJson(j.at("hyperparams").dump(), what);
    if (!h)
      return h.status();
    meta.hyperparams = *h;
    if (!j.at("data_position").is_object() || !j.at("dataset").is_object() ||
        !j.at("run").is_object())
      return bad("data_position, dataset and run must be objects");
    meta.dataPosition = j.at("data_position").dump();
    meta.dataset = j.at("dataset").dump();
    meta.run = j.at("run").dump();
    const nlohmann::json &w = j.at("weights");
    meta.weightsFile = w.at("file").get<std::string>();
    meta.weightsBytes = w.at("bytes").get<uint64_t>();
    std::string checksum = w.at("fnv1a64").get<std::string>();
    size_t used = 0;
    meta.weightsChecksum = std::stoull(checksum, &used, 16);
    if (used != checksum.size() || checksum.size() != 16)
      return bad("weights.fnv1a64 is not 16 hex digits");
  } catch (const std::exception &e) {
    return bad(e.what());
  }
  if (meta.step < 0 || meta.epoch < 1 || meta.examples < 0)
    return bad("step, epoch or examples out of range");
  if (meta.weightsFile.empty() ||
      meta.weightsFile.find('/') != std::string::npos)
    return bad("weights.file must be a file name in the checkpoint directory");
  return meta;
}

std::string CheckpointDir::metaPath(int64_t step) const {
  return fmt::format("{}/{}{:010}{}", dir_, kPrefix, step, kMetaSuffix);
}

std::string CheckpointDir::weightsPath(int64_t step) const {
  return fmt::format("{}/{}{:010}{}", dir_, kPrefix, step, kWeightsSuffix);
}

StatusOr<std::vector<int64_t>> CheckpointDir::list() const {
  std::vector<int64_t> steps;
  std::error_code error;
  if (!fs::exists(dir_, error))
    return steps;
  fs::directory_iterator it(dir_, error), end;
  if (error)
    return Status::error(Status::Code::IoError,
                         fmt::format("{}: cannot list the checkpoints: {}",
                                     dir_, error.message()));
  for (; it != end; it.increment(error)) {
    if (error)
      return Status::error(Status::Code::IoError,
                           fmt::format("{}: cannot list the checkpoints: {}",
                                       dir_, error.message()));
    int64_t step = stepOf(it->path().filename().string(), kMetaSuffix);
    if (step >= 0)
      steps.push_back(step);
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

StatusOr<CheckpointMeta> CheckpointDir::read(int64_t step) const {
  std::string path = metaPath(step);
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error(
        Status::Code::NotFound,
        fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::stringstream text;
  text << in.rdbuf();
  StatusOr<CheckpointMeta> meta = parseCheckpointMeta(text.str(), path);
  if (!meta)
    return meta.status();
  if (meta->step != step)
    return Status::error(Status::Code::Corrupt,
                         fmt::format("{}: holds step {}, but its name says {}",
                                     path, meta->step, step));
  std::string weights = dir_ + "/" + meta->weightsFile;
  std::error_code error;
  uintmax_t size = fs::file_size(weights, error);
  if (error)
    return Status::error(
        Status::Code::Corrupt,
        fmt::format("{}: the checkpoint's weights {} are missing ({}); "
                    "remove {} to fall back to the previous checkpoint",
                    path, weights, error.message(), path));
  if (size != meta->weightsBytes)
    return Status::error(
        Status::Code::Corrupt,
        fmt::format("{}: is {} bytes, but checkpoint {} recorded {} (a "
                    "truncated or replaced file); remove {} to fall back to "
                    "the previous checkpoint",
                    weights, size, path, meta->weightsBytes, path));
  return meta;
}

StatusOr<std::optional<CheckpointMeta>> CheckpointDir::latest() const {
  StatusOr<std::vector<int64_t>> steps = list();
  if (!steps)
    return steps.status();
  if (steps->empty())
    return std::optional<CheckpointMeta>();
  StatusOr<CheckpointMeta> meta = read(steps->back());
  if (!meta)
    return meta.status();
  return std::optional<CheckpointMeta>(std::move(*meta));
}

Status CheckpointDir::load(const CheckpointMeta &meta, ParameterStore &params,
                           runtime::CheckpointLoadReport *report) const {
  std::string weights = dir_ + "/" + meta.weightsFile;
  StatusOr<uint64_t> checksum = fileChecksum(weights);
  if (!checksum)
    return checksum.status();
  if (*checksum != meta.weightsChecksum)
    return Status::error(
        Status::Code::Corrupt,
        fmt::format("{}: checksum {} does not match {} recorded by {}: the "
                    "file is damaged; remove {} to fall back to the previous "
                    "checkpoint",
                    weights, hex64(*checksum), hex64(meta.weightsChecksum),
                    metaPath(meta.step), metaPath(meta.step)));
  return params.loadSafetensors(weights, report);
}

Status CheckpointDir::save(const ParameterStore &params, CheckpointMeta meta,
                           int keep) {
  std::error_code error;
  fs::create_directories(dir_, error);
  if (error)
    return Status::error(Status::Code::IoError,
                         fmt::format("{}: cannot create the checkpoint "
                                     "directory: {}",
                                     dir_, error.message()));
  auto stop = [&](const char *stage) { return crashHook && !crashHook(stage); };
  std::string weights = weightsPath(meta.step);
  std::string weightsPartial = weights + kPartialSuffix;
  std::map<std::string, std::string> tensorMeta = {
      {"format", "pt"},
      {"onerec.model", meta.planModel},
      {"onerec.source_hash", meta.planSourceHash},
      {"onerec.step", std::to_string(meta.step)}};
  if (Status s = params.saveSafetensors(weightsPartial, tensorMeta); !s)
    return s;
  if (Status s = syncPath(weightsPartial, false); !s)
    return s;
  if (stop("weights-written"))
    return Status::ok();
  StatusOr<uint64_t> checksum = fileChecksum(weightsPartial);
  if (!checksum)
    return checksum.status();
  uintmax_t bytes = fs::file_size(weightsPartial, error);
  if (error)
    return Status::error(
        Status::Code::IoError,
        fmt::format("{}: {}", weightsPartial, error.message()));
  if (std::rename(weightsPartial.c_str(), weights.c_str()) != 0)
    return ioError(weights, "rename into place");
  // Make the weights' directory entry durable before the metadata that
  // vouches for them can exist: otherwise a power loss could keep the .json
  // (renamed later) and lose the weights' rename.
  if (Status s = syncPath(dir_, true); !s)
    return s;
  if (stop("weights-renamed"))
    return Status::ok();

  meta.weightsFile = fs::path(weights).filename().string();
  meta.weightsBytes = bytes;
  meta.weightsChecksum = *checksum;
  std::string metaFile = metaPath(meta.step);
  std::string metaPartial = metaFile + kPartialSuffix;
  if (Status s = writeFileDurably(metaPartial, formatCheckpointMeta(meta)); !s)
    return s;
  if (stop("meta-written"))
    return Status::ok();
  if (std::rename(metaPartial.c_str(), metaFile.c_str()) != 0)
    return ioError(metaFile, "rename into place");
  if (Status s = syncPath(dir_, true); !s)
    return s;

  // Prune: older complete checkpoints beyond `keep` (metadata first, so a
  // crash mid-prune leaves no complete checkpoint without weights), then
  // the leftovers of interrupted saves.
  StatusOr<std::vector<int64_t>> steps = list();
  if (!steps)
    return steps.status();
  std::vector<int64_t> complete = *steps;
  if (keep > 0 && complete.size() > size_t(keep)) {
    for (size_t i = 0; i + size_t(keep) < complete.size(); ++i) {
      fs::remove(metaPath(complete[i]), error);
      fs::remove(weightsPath(complete[i]), error);
    }
    complete.erase(complete.begin(), complete.end() - keep);
  }
  std::vector<fs::path> leftovers;
  for (fs::directory_iterator it(dir_, error), end; !error && it != end;
       it.increment(error)) {
    std::string name = it->path().filename().string();
    // "ckpt-N.safetensors.partial", its ".tmp", "ckpt-N.json.partial".
    bool partial = name.rfind(kPrefix, 0) == 0 &&
                   name.find(kPartialSuffix) != std::string::npos;
    int64_t step = stepOf(name, kWeightsSuffix);
    bool orphan = step >= 0 &&
                  !std::binary_search(complete.begin(), complete.end(), step);
    if (partial || orphan)
      leftovers.push_back(it->path());
  }
  for (const fs::path &path : leftovers)
    fs::remove(path, error);
  return Status::ok();
}

} // namespace onerec::driver
