//===- GenerationRequests.cpp - encoder inputs of one generation request --===//

#include "onerec/Driver/GenerationRequests.h"

#include <fmt/format.h>

#include <functional>

using namespace onerec::runtime;
using nlohmann::json;

namespace onerec::driver {

namespace {

Status invalid(std::string message) {
  return Status::error(Status::Code::InvalidArgument, std::move(message));
}

std::string describe(const json &value) {
  std::string text = value.dump();
  return text.size() > 40 ? text.substr(0, 37) + "..." : text;
}

} // namespace

RequestReader::RequestReader(const PlanFile &plan, const plan::Entry &encoder,
                             const data::Catalog &catalog)
    : catalog_(catalog) {
  for (uint32_t i = 0; i < encoder.inputs()->size(); ++i) {
    const plan::Binding &b = *encoder.inputs()->Get(i);
    const plan::Tensor &t = *encoder.tensors()->Get(b.tensor());
    Input input;
    input.name = b.name()->str();
    input.dtype = static_cast<DType>(t.dtype());
    input.bound = t.index_bound();
    for (uint32_t d = 1; t.shape() && d < t.shape()->size(); ++d) {
      const plan::Extent *e = t.shape()->Get(d);
      if (e->symbol() >= 0)
        unsupported_ = invalid(fmt::format(
            "input '{}' has a symbolic extent after the batch; requests "
            "cannot fill it",
            input.name));
      input.row.dims[input.row.rank++] = e->static_size();
    }
    bool isInt = input.dtype == DType::i64 || input.dtype == DType::i32;
    if (isInt && input.row.rank == 2 && input.row.dims[1] == catalog.levels() &&
        input.bound == catalog.codebook())
      input.kind = Kind::History;
    else if (isInt && input.row.rank == 0)
      input.kind = Kind::Id;
    else if (isInt)
      input.kind = Kind::Integer;
    else if (input.dtype == DType::bool8)
      input.kind = Kind::Bool;
    else
      input.kind = Kind::Float;
    inputs_.push_back(input);
  }
}

StatusOr<HostTensor> RequestReader::historyTensor(const Input &input,
                                                  const int64_t *items,
                                                  size_t count,
                                                  bool truncate) const {
  HostTensor t(DType::i64, [&] {
    Shape s;
    s.dims[s.rank++] = 1;
    for (int i = 0; i < input.row.rank; ++i)
      s.dims[s.rank++] = input.row.dims[i];
    return s;
  }());
  if (Status s = data::fillHistoryCodes(
          catalog_, items, count, input.row.dims[0], truncate, t.as<int64_t>());
      !s)
    return s.withContext(input.name);
  return t;
}

StatusOr<GenerationRequest> RequestReader::fromJson(const json &request) const {
  if (!unsupported_)
    return unsupported_;
  if (!request.is_object())
    return invalid("a request is a JSON object, got " + describe(request));
  for (auto it = request.begin(); it != request.end(); ++it) {
    if (it.key() == "id")
      continue;
    bool known = false;
    for (const Input &input : inputs_)
      known |= input.name == it.key();
    if (!known) {
      std::vector<std::string> names;
      for (const Input &input : inputs_)
        names.push_back(input.name);
      return invalid(fmt::format("unknown field '{}' (the encoder reads {}, "
                                 "and \"id\")",
                                 it.key(), fmt::join(names, ", ")));
    }
  }
  GenerationRequest out;
  for (const Input &input : inputs_) {
    auto field = request.find(input.name);
    if (field == request.end())
      return invalid(fmt::format("missing field '{}'", input.name));
    const json &value = *field;
    if (input.kind == Kind::History) {
      if (!value.is_array())
        return invalid(fmt::format("{}: expected a list of item ids, got {}",
                                   input.name, describe(value)));
      std::vector<int64_t> items;
      for (const json &item : value) {
        if (!item.is_number_integer())
          return invalid(fmt::format("{}: item ids are integers, got {}",
                                     input.name, describe(item)));
        items.push_back(item.get<int64_t>());
      }
      StatusOr<HostTensor> t =
          historyTensor(input, items.data(), items.size(), false);
      if (!t)
        return t.status();
      out.inputs.push_back({input.name, std::move(t.value())});
      continue;
    }
    Shape shape;
    shape.dims[shape.rank++] = 1;
    for (int i = 0; i < input.row.rank; ++i)
      shape.dims[shape.rank++] = input.row.dims[i];
    HostTensor t(input.dtype, shape);
    int64_t filled = 0;
    // Walks nested lists of the row's shape, element by element.
    std::function<Status(const json &, int)> fill = [&](const json &v,
                                                        int axis) -> Status {
      if (axis == input.row.rank) {
        switch (input.kind) {
        case Kind::Float:
          if (!v.is_number())
            return invalid(fmt::format("{}: expected a number, got {}",
                                       input.name, describe(v)));
          t.as<float>()[filled++] = v.get<float>();
          return Status::ok();
        case Kind::Bool:
          if (!v.is_boolean())
            return invalid(fmt::format("{}: expected true or false, got {}",
                                       input.name, describe(v)));
          t.as<uint8_t>()[filled++] = v.get<bool>() ? 1 : 0;
          return Status::ok();
        default: {
          if (!v.is_number_integer())
            return invalid(fmt::format("{}: expected an integer, got {}",
                                       input.name, describe(v)));
          int64_t id = v.get<int64_t>();
          if (id < 0 || (input.bound > 0 && id >= input.bound))
            return invalid(fmt::format(
                "{}: {} is outside [0, {})", input.name, id,
                input.bound > 0 ? fmt::to_string(input.bound) : "2^63"));
          if (input.dtype == DType::i32)
            t.as<int32_t>()[filled++] = int32_t(id);
          else
            t.as<int64_t>()[filled++] = id;
          return Status::ok();
        }
        }
      }
      int64_t extent = input.row.dims[axis];
      if (!v.is_array() || int64_t(v.size()) != extent)
        return invalid(fmt::format("{}: expected a list of {} at depth {}, "
                                   "got {}",
                                   input.name, extent, axis + 1, describe(v)));
      for (const json &element : v)
        if (Status s = fill(element, axis + 1); !s)
          return s;
      return Status::ok();
    };
    if (Status s = fill(value, 0); !s)
      return s;
    out.inputs.push_back({input.name, std::move(t)});
  }
  return out;
}

StatusOr<GenerationRequest> RequestReader::fromHistory(int64_t user,
                                                       const int64_t *items,
                                                       size_t count) const {
  if (!unsupported_)
    return unsupported_;
  GenerationRequest out;
  for (const Input &input : inputs_) {
    if (input.kind == Kind::History) {
      StatusOr<HostTensor> t = historyTensor(input, items, count, true);
      if (!t)
        return t.status();
      out.inputs.push_back({input.name, std::move(t.value())});
    } else if (input.kind == Kind::Id) {
      if (user < 0 || (input.bound > 0 && user >= input.bound))
        return invalid(fmt::format("{}: user {} is outside [0, {})", input.name,
                                   user, input.bound));
      HostTensor t(input.dtype, Shape{1});
      int64_t id = user;
      if (input.dtype == DType::i32)
        t.as<int32_t>()[0] = int32_t(id);
      else
        t.as<int64_t>()[0] = id;
      out.inputs.push_back({input.name, std::move(t)});
    } else {
      return invalid(fmt::format(
          "the encoder's input '{}' is neither a user id nor a semantic-ID "
          "history; evaluation from a dataset cannot fill it",
          input.name));
    }
  }
  return out;
}

} // namespace onerec::driver
