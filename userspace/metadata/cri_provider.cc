// The CRI provider: containerd and CRI-O through runtime.v1.RuntimeService over the runtime's
// unix socket (gRPC, Debian's libgrpc++ 1.51). Like the Docker provider it runs only on the
// metadata thread, with a deadline per call, so a dead socket fails at once and a hung one costs
// the deadline, never a scrape.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>

#include "cri/api.grpc.pb.h"
#include "podstat/metadata/cri_catalog.h"
#include "podstat/metadata/provider.h"

namespace podstat::metadata {
namespace {

// A healthy runtime lists a node's containers in milliseconds; this bounds a hung one.
constexpr auto kCallTimeout = std::chrono::seconds(2);
// A reply this large is no node's container list: refuse it rather than hold it.
constexpr int kMaxReplyBytes = 64 << 20;

class CriProvider : public Provider {
 public:
  explicit CriProvider(std::string endpoint) : endpoint_(std::move(endpoint)) {}
  std::string_view name() const override { return "cri"; }

  bool Fetch(Catalog& out, std::string* error) override {
    // The channel (and gRPC's own threads) come to life on the metadata thread at the first
    // fetch, after the agent has dropped its capabilities.
    if (!stub_) {
      grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(kMaxReplyBytes);
      stub_ = runtime::v1::RuntimeService::NewStub(
          grpc::CreateCustomChannel(endpoint_, grpc::InsecureChannelCredentials(), args));
    }
    runtime::v1::ListPodSandboxResponse sandboxes;
    runtime::v1::ListContainersResponse containers;
    if (!Call("ListPodSandbox", &runtime::v1::RuntimeService::Stub::ListPodSandbox,
              runtime::v1::ListPodSandboxRequest(), &sandboxes, error) ||
        !Call("ListContainers", &runtime::v1::RuntimeService::Stub::ListContainers,
              runtime::v1::ListContainersRequest(), &containers, error)) {
      return false;
    }
    out = BuildCriCatalog(sandboxes, containers);
    return true;
  }

 private:
  template <typename Method, typename Request, typename Response>
  bool Call(const char* what, Method method, const Request& request, Response* response,
            std::string* error) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    const grpc::Status status = ((*stub_).*method)(&context, request, response);
    if (status.ok()) return true;
    *error = std::string(what) + " at " + endpoint_ + ": " + status.error_message() + " (gRPC " +
             std::to_string(static_cast<int>(status.error_code())) + ")";
    return false;
  }

  std::string endpoint_;
  std::unique_ptr<runtime::v1::RuntimeService::Stub> stub_;
};

}  // namespace

std::unique_ptr<Provider> MakeCriProvider(std::string endpoint) {
  return std::make_unique<CriProvider>(std::move(endpoint));
}

}  // namespace podstat::metadata
