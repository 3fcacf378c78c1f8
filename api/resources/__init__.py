"""Each app's resources, on what every resource shares (api/views.py, api/serializers.py)."""
