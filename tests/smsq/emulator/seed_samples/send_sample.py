# The seed article's SendSmsVerifyCode sample, changed only to pass explicit credentials, the endpoint
# and protocol='http' (read from SAMPLE_KEY_ID / SAMPLE_KEY_SECRET / SAMPLE_ENDPOINT).
import os

from alibabacloud_dypnsapi20170525 import models as dypnsapi_20170525_models
from alibabacloud_dypnsapi20170525.client import Client as Dypnsapi20170525Client
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_util import models as util_models
from alibabacloud_tea_util.client import Client as UtilClient


class Sample:
    def __init__(self):
        pass

    @staticmethod
    def create_client() -> Dypnsapi20170525Client:
        """
        使用凭据初始化账号Client
        @return: Client
        @throws Exception
        """
        config = open_api_models.Config(
            access_key_id=os.environ["SAMPLE_KEY_ID"],
            access_key_secret=os.environ["SAMPLE_KEY_SECRET"],
            protocol="http",
        )
        # Endpoint 请参考 https://api.aliyun.com/product/Dypnsapi
        config.endpoint = os.environ["SAMPLE_ENDPOINT"]
        return Dypnsapi20170525Client(config)

    @staticmethod
    def main() -> None:
        client = Sample.create_client()
        send_sms_verify_code_request = dypnsapi_20170525_models.SendSmsVerifyCodeRequest(
            scheme_name="默认方案",
            phone_number="13511112222",
            sign_name="速通互联验证码",
            template_code="100001",
            template_param='{"code":"##code##","min":"5"}',
        )
        runtime = util_models.RuntimeOptions()
        try:
            # 复制代码运行请自行打印 API 的返回值
            response = client.send_sms_verify_code_with_options(send_sms_verify_code_request, runtime)
        except Exception as error:
            # 此处仅做打印展示，请谨慎对待异常处理，在工程项目中切勿直接忽略异常。
            # 错误 message
            print(error.message)
            # 诊断地址
            print(error.data.get("Recommend"))
            UtilClient.assert_as_string(error.message)
        else:
            print(response.headers)
            print(response.status_code)
            print(response.body)


if __name__ == "__main__":
    Sample.main()
