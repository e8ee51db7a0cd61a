#include "podstat/remote_write/proto.h"

#include <cstring>

namespace podstat::remote_write {
namespace {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

constexpr uint8_t Tag(uint32_t field, WireType type) {
  return static_cast<uint8_t>((field << 3) | type);
}

// ---- encoding ----

size_t VarintSize(uint64_t v) {
  // 1 byte per 7 bits, at least one.
  return v < 0x80 ? 1 : static_cast<size_t>((64 - std::countl_zero(v) + 6) / 7);
}

size_t LengthDelimitedSize(size_t payload) { return 1 + VarintSize(payload) + payload; }

size_t LabelSize(const Label& label) {
  size_t size = 0;
  if (!label.name.empty()) size += LengthDelimitedSize(label.name.size());
  if (!label.value.empty()) size += LengthDelimitedSize(label.value.size());
  return size;
}

size_t SampleSize(const Sample& sample) {
  size_t size = 0;
  if (std::bit_cast<uint64_t>(sample.value) != 0) size += 1 + 8;
  if (sample.timestamp_ms != 0) size += 1 + VarintSize(static_cast<uint64_t>(sample.timestamp_ms));
  return size;
}

size_t SeriesSize(const TimeSeries& series) {
  size_t size = 0;
  for (const Label& label : series.labels) size += LengthDelimitedSize(LabelSize(label));
  for (const Sample& sample : series.samples) size += LengthDelimitedSize(SampleSize(sample));
  return size;
}

class Writer {
 public:
  explicit Writer(char* out) : op_(out) {}
  char* position() const { return op_; }

  void Byte(uint8_t b) { *op_++ = static_cast<char>(b); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      Byte(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    Byte(static_cast<uint8_t>(v));
  }
  void Fixed64(uint64_t v) {
    for (int i = 0; i < 8; ++i) Byte(static_cast<uint8_t>(v >> (8 * i)));
  }
  void String(uint32_t field, std::string_view s) {
    if (s.empty()) return;
    Byte(Tag(field, kLengthDelimited));
    Varint(s.size());
    std::memcpy(op_, s.data(), s.size());
    op_ += s.size();
  }
  void Header(uint32_t field, size_t length) {
    Byte(Tag(field, kLengthDelimited));
    Varint(length);
  }

 private:
  char* op_;
};

void WriteSeries(Writer& w, const TimeSeries& series) {
  for (const Label& label : series.labels) {
    w.Header(1, LabelSize(label));
    w.String(1, label.name);
    w.String(2, label.value);
  }
  for (const Sample& sample : series.samples) {
    w.Header(2, SampleSize(sample));
    const auto bits = std::bit_cast<uint64_t>(sample.value);
    if (bits != 0) {
      w.Byte(Tag(1, kFixed64));
      w.Fixed64(bits);
    }
    if (sample.timestamp_ms != 0) {
      w.Byte(Tag(2, kVarint));
      w.Varint(static_cast<uint64_t>(sample.timestamp_ms));
    }
  }
}

// ---- decoding ----

class Reader {
 public:
  explicit Reader(std::string_view bytes)
      : p_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(p_ + bytes.size()) {}

  bool AtEnd() const { return p_ == end_; }

  bool Varint(uint64_t* value, std::string* error) {
    // Fast path: a one-byte varint (tags, short lengths).
    if (p_ < end_ && *p_ < 0x80) {
      *value = *p_++;
      return true;
    }
    uint64_t v = 0;
    for (int i = 0; i < 10; ++i) {
      if (p_ == end_) return Fail(error, "truncated varint");
      const uint8_t byte = *p_++;
      // The tenth byte may only carry the top bit of a 64-bit value.
      if (i == 9 && byte > 1) return Fail(error, "varint overflows 64 bits");
      v |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
      if (byte < 0x80) {
        *value = v;
        return true;
      }
    }
    return Fail(error, "varint overflows 64 bits");
  }

  // A field key: field number (1..2^29-1) and wire type.
  bool Key(uint32_t* field, uint32_t* wire_type, std::string* error) {
    uint64_t key = 0;
    if (!Varint(&key, error)) return false;
    if ((key >> 3) == 0) return Fail(error, "field number 0");
    if ((key >> 3) > 0x1fffffff) return Fail(error, "field number too large");
    *field = static_cast<uint32_t>(key >> 3);
    *wire_type = static_cast<uint32_t>(key & 7);
    return true;
  }

  bool Bytes(std::string_view* out, std::string* error) {
    uint64_t length = 0;
    if (!Varint(&length, error)) return false;
    if (length > static_cast<uint64_t>(end_ - p_)) return Fail(error, "length past the end");
    *out = std::string_view(reinterpret_cast<const char*>(p_), static_cast<size_t>(length));
    p_ += length;
    return true;
  }

  bool Fixed64(uint64_t* value, std::string* error) {
    if (end_ - p_ < 8) return Fail(error, "truncated fixed64");
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p_[i]) << (8 * i);
    p_ += 8;
    *value = v;
    return true;
  }

  // Skips one unknown field's payload. Groups (3, 4) are deprecated proto2 and never appear in
  // remote_write; refusing them avoids unbounded nesting.
  bool Skip(uint32_t wire_type, std::string* error) {
    uint64_t ignored = 0;
    std::string_view bytes;
    switch (wire_type) {
      case kVarint:
        return Varint(&ignored, error);
      case kFixed64:
        return Fixed64(&ignored, error);
      case kLengthDelimited:
        return Bytes(&bytes, error);
      case kFixed32:
        if (end_ - p_ < 4) return Fail(error, "truncated fixed32");
        p_ += 4;
        return true;
      case 3:
      case 4:
        return Fail(error, "groups are not supported");
      default:
        return Fail(error, "invalid wire type");
    }
  }

  static bool Fail(std::string* error, const char* reason) {
    if (error) *error = reason;
    return false;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

bool ExpectWireType(uint32_t actual, WireType expected, const char* field, std::string* error) {
  if (actual == expected) return true;
  if (error) *error = std::string("wrong wire type for ") + field;
  return false;
}

bool DecodeLabel(std::string_view bytes, LabelRef* label, const DecodeLimits& limits,
                 std::string* error) {
  Reader r(bytes);
  while (!r.AtEnd()) {
    uint32_t field = 0, wire_type = 0;
    if (!r.Key(&field, &wire_type, error)) return false;
    if (field == 1 || field == 2) {
      if (!ExpectWireType(wire_type, kLengthDelimited, "Label", error)) return false;
      std::string_view* target = field == 1 ? &label->name : &label->value;
      if (!r.Bytes(target, error)) return false;
    } else if (!r.Skip(wire_type, error)) {
      return false;
    }
  }
  if (label->name.size() > limits.max_label_name_bytes)
    return Reader::Fail(error, "label name too long");
  if (label->value.size() > limits.max_label_value_bytes)
    return Reader::Fail(error, "label value too long");
  return true;
}

bool DecodeSample(std::string_view bytes, Sample* sample, std::string* error) {
  Reader r(bytes);
  while (!r.AtEnd()) {
    uint32_t field = 0, wire_type = 0;
    if (!r.Key(&field, &wire_type, error)) return false;
    if (field == 1) {
      if (!ExpectWireType(wire_type, kFixed64, "Sample.value", error)) return false;
      uint64_t bits = 0;
      if (!r.Fixed64(&bits, error)) return false;
      sample->value = std::bit_cast<double>(bits);
    } else if (field == 2) {
      if (!ExpectWireType(wire_type, kVarint, "Sample.timestamp", error)) return false;
      uint64_t raw = 0;
      if (!r.Varint(&raw, error)) return false;
      sample->timestamp_ms = static_cast<int64_t>(raw);
    } else if (!r.Skip(wire_type, error)) {
      return false;
    }
  }
  return true;
}

bool DecodeSeries(std::string_view bytes, WriteRequestView& out, const DecodeLimits& limits,
                  std::string* error) {
  SeriesRef series;
  series.first_label = static_cast<uint32_t>(out.labels.size());
  series.first_sample = static_cast<uint32_t>(out.samples.size());
  Reader r(bytes);
  while (!r.AtEnd()) {
    uint32_t field = 0, wire_type = 0;
    if (!r.Key(&field, &wire_type, error)) return false;
    std::string_view payload;
    if (field == 1) {
      if (!ExpectWireType(wire_type, kLengthDelimited, "TimeSeries.labels", error)) return false;
      if (!r.Bytes(&payload, error)) return false;
      if (series.label_count >= limits.max_labels_per_series)
        return Reader::Fail(error, "too many labels in a series");
      if (out.labels.size() >= limits.max_labels) return Reader::Fail(error, "too many labels");
      LabelRef& label = out.labels.emplace_back();
      if (!DecodeLabel(payload, &label, limits, error)) return false;
      ++series.label_count;
    } else if (field == 2) {
      if (!ExpectWireType(wire_type, kLengthDelimited, "TimeSeries.samples", error)) return false;
      if (!r.Bytes(&payload, error)) return false;
      if (out.samples.size() >= limits.max_samples) return Reader::Fail(error, "too many samples");
      if (!DecodeSample(payload, &out.samples.emplace_back(), error)) return false;
      ++series.sample_count;
    } else if (!r.Skip(wire_type, error)) {
      return false;
    }
  }
  out.series.push_back(series);
  return true;
}

}  // namespace

std::string EncodeWriteRequest(const WriteRequest& request) {
  std::string out;
  EncodeWriteRequest(request, out);
  return out;
}

void EncodeWriteRequest(const WriteRequest& request, std::string& out) {
  std::vector<size_t> series_sizes;
  series_sizes.reserve(request.timeseries.size());
  size_t total = 0;
  for (const TimeSeries& series : request.timeseries) {
    series_sizes.push_back(SeriesSize(series));
    total += LengthDelimitedSize(series_sizes.back());
  }
  out.resize(total);
  Writer w(out.data());
  for (size_t i = 0; i < request.timeseries.size(); ++i) {
    w.Header(1, series_sizes[i]);
    WriteSeries(w, request.timeseries[i]);
  }
  out.resize(static_cast<size_t>(w.position() - out.data()));
}

bool DecodeWriteRequest(std::string_view bytes, WriteRequestView& out, std::string* error,
                        const DecodeLimits& limits) {
  out.Clear();
  Reader r(bytes);
  while (!r.AtEnd()) {
    uint32_t field = 0, wire_type = 0;
    if (!r.Key(&field, &wire_type, error)) return false;
    if (field != 1) {
      if (!r.Skip(wire_type, error)) return false;
      continue;
    }
    if (!ExpectWireType(wire_type, kLengthDelimited, "WriteRequest.timeseries", error))
      return false;
    std::string_view payload;
    if (!r.Bytes(&payload, error)) return false;
    if (out.series.size() >= limits.max_series) return Reader::Fail(error, "too many series");
    if (!DecodeSeries(payload, out, limits, error)) return false;
  }
  return true;
}

bool DecodeWriteRequest(std::string_view bytes, WriteRequest& out, std::string* error,
                        const DecodeLimits& limits) {
  out.timeseries.clear();
  WriteRequestView view;
  if (!DecodeWriteRequest(bytes, view, error, limits)) return false;
  out.timeseries.reserve(view.series.size());
  for (const SeriesRef& ref : view.series) {
    TimeSeries& series = out.timeseries.emplace_back();
    for (const LabelRef& label : view.LabelsOf(ref))
      series.labels.push_back({std::string(label.name), std::string(label.value)});
    const auto samples = view.SamplesOf(ref);
    series.samples.assign(samples.begin(), samples.end());
  }
  return true;
}

void MakeView(const WriteRequest& request, WriteRequestView& out) {
  out.Clear();
  for (const TimeSeries& series : request.timeseries) {
    SeriesRef ref;
    ref.first_label = static_cast<uint32_t>(out.labels.size());
    ref.first_sample = static_cast<uint32_t>(out.samples.size());
    ref.label_count = static_cast<uint32_t>(series.labels.size());
    ref.sample_count = static_cast<uint32_t>(series.samples.size());
    for (const Label& label : series.labels) out.labels.push_back({label.name, label.value});
    out.samples.insert(out.samples.end(), series.samples.begin(), series.samples.end());
    out.series.push_back(ref);
  }
}

}  // namespace podstat::remote_write
