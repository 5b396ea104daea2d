#include <chrono>

#include "cri/server/grpc_status.h"
#include "cri/server/image_convert.h"

namespace vpcri::cri {

grpc::Status ImageService::ImageFsInfo(grpc::ServerContext*, const v1::ImageFsInfoRequest*,
                                       v1::ImageFsInfoResponse* resp) {
  return handle_rpc("ImageFsInfo", [&] {
    runtime::image::FsUsage usage = state_.images().usage();
    auto* fs = resp->add_image_filesystems();
    fs->set_timestamp(std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count());
    fs->mutable_fs_id()->set_mountpoint(usage.mountpoint);
    fs->mutable_used_bytes()->set_value(usage.used_bytes);
    fs->mutable_inodes_used()->set_value(usage.inodes_used);
  });
}

}  // namespace vpcri::cri
