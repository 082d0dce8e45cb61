"""(Interface placeholder: the incidents and channels API.)"""

from rest_framework.views import APIView


class IncidentListView(APIView):
    pass


class IncidentDetailView(APIView):
    pass


class ChannelListView(APIView):
    pass


class ChannelDetailView(APIView):
    pass


class ChannelTestView(APIView):
    pass
