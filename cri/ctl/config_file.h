// Pod and container config files for runp, create and run, in crictl's format: the JSON or YAML
// form of a runtime.v1 PodSandboxConfig or ContainerConfig, with the proto's field names
// (log_directory) or their JSON names (logDirectory).
#pragma once

#include <google/protobuf/message.h>

#include <string>

namespace vpcri::ctl {

// Fills `message` from `text`, read from `file` (named in errors). YAML unless `file` ends in
// ".json" or the text starts with '{'. Throws std::runtime_error("FILE[:LINE:COL]: ...") for
// malformed text, unknown fields and values of the wrong type.
void parse_config(const std::string& text, const std::string& file, google::protobuf::Message* message);

// Reads `file` and parses it as above.
void load_config(const std::string& file, google::protobuf::Message* message);

}  // namespace vpcri::ctl
