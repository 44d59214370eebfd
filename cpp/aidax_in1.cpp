// AIDA-X processors of 1 input (the signal), every AIDA-X hidden size.
#include "aidax_model.h"

namespace nfx::aidax
{
std::unique_ptr<Processor> makeIn1(const json& j, const ModelInfo& info)
{
    return dispatch<1>(j, info, AidaxSizes {});
}
} // namespace nfx::aidax
